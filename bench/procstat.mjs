// What a proxy process costs, read from /proc: CPU time (utime + stime) and memory (VmRSS,
// VmHWM, and VmRSS's parts: RssAnon, the process's own memory, and RssFile, the pages of
// its executable and libraries that it has touched, shared with every process running
// them and sized by the kernel's page cache as much as by the process), summed over a process tree (processTree, taken once per measurement) so a
// multi-process proxy is counted whole. Linux only; elsewhere every figure is null.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { execFileSync } from 'node:child_process'

let ticksPerSecond = 0

/** Clock ticks per second of utime/stime (getconf CLK_TCK, 100 almost everywhere). */
export function clockTicks() {
  if (ticksPerSecond) return ticksPerSecond
  try {
    ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    ticksPerSecond = 100
  }
  return ticksPerSecond
}

/**
 * Parse one /proc/PID/stat line: { ppid, ticks } where ticks = utime + stime.
 * The command name may hold spaces and parentheses, so fields count from the last ')'.
 */
export function parseStat(line) {
  const rest = line.slice(line.lastIndexOf(')') + 2).split(' ')
  // rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15
  return { ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]) }
}

/**
 * Parse /proc/PID/status: { rssKiB, hwmKiB, anonKiB, fileKiB } (VmRSS, VmHWM, RssAnon,
 * RssFile), each null when absent (a zombie; RssAnon and RssFile before Linux 4.5).
 */
export function parseStatus(text) {
  const kib = (name) => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)
    return m ? Number(m[1]) : null
  }
  return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM'), anonKiB: kib('RssAnon'), fileKiB: kib('RssFile') }
}

function readStat(pid) {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return null
  }
}

/** `pid` and every descendant alive now. */
export function processTree(pid) {
  const children = new Map()
  let entries
  try {
    entries = readdirSync('/proc')
  } catch {
    return [pid]
  }
  for (const name of entries) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue
    const stat = readStat(name)
    if (!stat) continue
    const list = children.get(stat.ppid) ?? []
    list.push(Number(name))
    children.set(stat.ppid, list)
  }
  const tree = []
  const queue = [pid]
  while (queue.length) {
    const p = queue.shift()
    tree.push(p)
    for (const c of children.get(p) ?? []) queue.push(c)
  }
  return tree
}

/** CPU seconds (user + system) used so far by the processes `pids`; null off Linux. */
export function cpuSeconds(pids) {
  let ticks = 0
  let seen = false
  for (const p of pids) {
    const stat = readStat(p)
    if (stat) {
      ticks += stat.ticks
      seen = true
    }
  }
  return seen ? ticks / clockTicks() : null
}

/** Memory of the processes `pids`: { rssKiB, hwmKiB, anonKiB, fileKiB } summed; nulls off Linux. */
export function memory(pids) {
  const sum = { rssKiB: null, hwmKiB: null, anonKiB: null, fileKiB: null }
  for (const p of pids) {
    let status
    try {
      status = parseStatus(readFileSync(`/proc/${p}/status`, 'utf8'))
    } catch {
      continue
    }
    for (const k of Object.keys(sum)) if (status[k] !== null) sum[k] = (sum[k] ?? 0) + status[k]
  }
  return sum
}

/** Open sockets of the processes `pids` (to confirm held connections); null off Linux. */
export function socketCount(pids) {
  let count = null
  for (const p of pids) {
    let fds
    try {
      fds = readdirSync(`/proc/${p}/fd`)
    } catch {
      continue
    }
    count ??= 0
    for (const fd of fds) {
      try {
        if (readlinkSocket(`/proc/${p}/fd/${fd}`)) count++
      } catch {
        /* closed meanwhile */
      }
    }
  }
  return count
}

function readlinkSocket(path) {
  return readlinkSync(path).startsWith('socket:')
}

/**
 * Sample the summed memory of `pids` every `everyMs` until stop() is called; stop() answers
 * the sample with the largest VmRSS, as memory() gives it, or null off Linux (VmHWM of
 * several processes peaking apart is not summable).
 */
export function sampleRss(pids, everyMs = 100) {
  let peak = null
  const sample = () => {
    const m = memory(pids)
    if (m.rssKiB !== null && (peak === null || m.rssKiB > peak.rssKiB)) peak = m
  }
  sample()
  const timer = setInterval(sample, everyMs)
  return {
    stop() {
      clearInterval(timer)
      sample()
      return peak
    },
  }
}
