// Loaded into cutover's process by `bench/shadow.mjs --stalls` (node --import): counts the
// stalls of its event loop that were its own work, on a busy shared machine too. A 2 ms
// tick; a gap between ticks over 6 ms in which the process used over 4 ms of CPU is an
// own-work stall (a gap without that CPU is preemption by other processes, not counted).
// Starts after OWN_STALLS_DELAY_MS (the warm-up); at exit appends one JSON line to
// OWN_STALLS_FILE: { pid, cpu: percent, gaps, stalls: [cpu ms, ... largest first] }.
import { appendFileSync } from 'node:fs'

const file = process.env.OWN_STALLS_FILE
if (file) {
  const stalls = []
  let gaps = 0
  let lastWall = 0
  let lastCpu = 0
  let cpu0 = 0
  let t0 = 0
  const cpu = () => {
    const u = process.cpuUsage()
    return (u.user + u.system) / 1000
  }
  setTimeout(
    () => {
      lastWall = t0 = performance.now()
      lastCpu = cpu0 = cpu()
      setInterval(() => {
        const w = performance.now()
        const c = cpu()
        if (w - lastWall > 6) {
          gaps++
          if (c - lastCpu > 4) stalls.push(Math.round(c - lastCpu))
        }
        lastWall = w
        lastCpu = c
      }, 2).unref()
    },
    Number(process.env.OWN_STALLS_DELAY_MS ?? 0),
  ).unref()
  process.on('exit', () => {
    const secs = (performance.now() - t0) / 1000
    appendFileSync(file, `${JSON.stringify({ pid: process.pid, cpu: (cpu() - cpu0) / 10 / secs, gaps, stalls: stalls.sort((a, b) => b - a) })}\n`)
  })
}
