import t from 'tap'
import { spawn } from 'node:child_process'
import { cpuSeconds, memory, parseStat, parseStatus, processTree } from '../../bench/procstat.mjs'

t.test('parseStat counts fields from the last parenthesis', async (t) => {
  // a command name with spaces and a parenthesis, as /proc allows
  const line = '4242 (my (odd) proc) S 17 4242 4242 0 -1 4194560 1 0 0 0 250 75 0 0 20 0 1 0 100 0 0'
  t.same(parseStat(line), { ppid: 17, ticks: 325 })
})

t.test('parseStatus reads VmRSS and VmHWM in KiB, null when absent', async (t) => {
  t.same(parseStatus('Name:\tnginx\nVmHWM:\t   10240 kB\nVmRSS:\t    8192 kB\n'), { rssKiB: 8192, hwmKiB: 10240 })
  t.same(parseStatus('Name:\tzombie\nState:\tZ\n'), { rssKiB: null, hwmKiB: null })
})

t.test('live figures of this process and a child of it', { skip: process.platform !== 'linux' && 'Linux only' }, async (t) => {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 5000)'], { stdio: 'ignore' })
  t.teardown(() => {
    child.kill('SIGKILL')
  })
  await new Promise((resolve) => child.once('spawn', resolve))
  const tree = processTree(process.pid)
  t.ok(tree.includes(child.pid), 'the child is in the tree')
  t.equal(tree[0], process.pid)
  const before = cpuSeconds([process.pid])
  const until = Date.now() + 50
  while (Date.now() < until) {
    /* burn 50 ms of CPU */
  }
  t.ok((cpuSeconds([process.pid]) ?? 0) > (before ?? Infinity), 'CPU time grows with work')
  const mem = memory([process.pid])
  t.ok((mem.rssKiB ?? 0) > 1024 && (mem.hwmKiB ?? 0) >= (mem.rssKiB ?? Infinity), 'RSS above 1 MiB, HWM at least RSS')
})
