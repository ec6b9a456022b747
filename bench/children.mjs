// Child processes of the bench: spawned (optionally pinned with taskset), tracked, and
// killed on every way out (normal exit, Ctrl-C, SIGTERM, an uncaught error), so a run
// never leaves an nginx or a node process behind.
import { spawn, spawnSync } from 'node:child_process'
import { createServer } from 'node:net'

const live = new Set()
let hooked = false

/** True when `command` is on PATH (or is an absolute path that exists and runs). */
export function hasCommand(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0
}

/** The CPU pinning plan: proxy on core 1, upstream and load on core 0, when possible. */
export function pinningPlan(cpuCount) {
  if (cpuCount < 2) return { enabled: false, reason: 'fewer than 2 CPUs' }
  if (!hasCommand('taskset')) return { enabled: false, reason: 'taskset not installed (util-linux)' }
  return { enabled: true, proxyCore: 1, loadCore: 0 }
}

/** Pin this process (all its threads) to `core`; autocannon runs in it. */
export function pinSelf(core) {
  return spawnSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)], { stdio: 'ignore' }).status === 0
}

function killAll() {
  for (const child of live) {
    try {
      child.kill('SIGKILL')
    } catch {
      /* already gone */
    }
  }
  live.clear()
}

function hookExit() {
  if (hooked) return
  hooked = true
  process.on('exit', killAll)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping every child process\n`)
      killAll()
      process.exit(130)
    })
  }
}

/**
 * Spawn `command args` (pinned to `core` when given), keep the last 8 KiB of its stderr
 * (and stdout unless `onStdout` takes it), and track it until it exits.
 */
export function startChild(command, args, { core, cwd, env, onStdout } = {}) {
  hookExit()
  const [file, argv] = core === undefined ? [command, args] : ['taskset', ['-c', String(core), command, ...args]]
  const child = spawn(file, argv, { cwd, env: env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] })
  let tail = ''
  const keep = (chunk) => {
    tail = (tail + chunk).slice(-8192)
  }
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', keep)
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', onStdout ?? keep)
  live.add(child)
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child)
      resolve({ code, signal })
    })
    child.once('error', (err) => {
      live.delete(child)
      keep(`spawn failed: ${err.message}\n`)
      resolve({ code: -1, signal: null })
    })
  })
  return {
    child,
    get pid() {
      return child.pid
    },
    exited,
    output: () => tail,
    /** SIGTERM, then SIGKILL after `graceMs` */
    async stop(graceMs = 2000) {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
    },
  }
}

/** A TCP port on 127.0.0.1 free right now (the kernel picks it; a small race is accepted). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** Poll `probe()` every 100 ms until it resolves true; false after `timeoutMs` or once `exited` settles. */
export async function waitFor(probe, { timeoutMs, exited }) {
  let gone = false
  exited?.then(() => {
    gone = true
  })
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline && !gone) {
    try {
      if (await probe()) return true
    } catch {
      /* not up yet */
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return false
}

/** One GET to 127.0.0.1 answering its status code, or throwing; for readiness probes. */
export async function getStatus(port, path = '/') {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(1000) })
  await res.arrayBuffer()
  return res.status
}
