import t from 'tap'
import { spawn } from 'node:child_process'
import { cpuSeconds, memory, parseStat, parseStatus, processTree, sampleRss } from '../../bench/procstat.mjs'

t.test('parseStat counts fields from the last parenthesis', async (t) => {
  // a command name with spaces and a parenthesis, as /proc allows
  const line = '4242 (my (odd) proc) S 17 4242 4242 0 -1 4194560 1 0 0 0 250 75 0 0 20 0 1 0 100 0 0'
  t.same(parseStat(line), { ppid: 17, ticks: 325 })
})

t.test('parseStatus reads VmRSS, VmHWM, RssAnon and RssFile in KiB, null when absent', async (t) => {
  const status = 'Name:\tnginx\nVmHWM:\t   10240 kB\nVmRSS:\t    8192 kB\nRssAnon:\t    2048 kB\nRssFile:\t    6000 kB\nRssShmem:\t     144 kB\n'
  t.same(parseStatus(status), { rssKiB: 8192, hwmKiB: 10240, anonKiB: 2048, fileKiB: 6000 })
  t.same(parseStatus('Name:\tzombie\nState:\tZ\n'), { rssKiB: null, hwmKiB: null, anonKiB: null, fileKiB: null })
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
  t.ok((mem.anonKiB ?? 0) > 0 && (mem.fileKiB ?? 0) > 0, 'both parts of RSS read')
  t.ok((mem.anonKiB ?? Infinity) + (mem.fileKiB ?? Infinity) <= (mem.rssKiB ?? 0), 'the parts add up to no more than RSS')
})

t.test('sampleRss answers the sample with the largest RSS, with its parts', { skip: process.platform !== 'linux' && 'Linux only' }, async (t) => {
  const sampler = sampleRss([process.pid], 5)
  const grown = Buffer.alloc(32 * 1024 * 1024, 1)
  const peak = sampler.stop()
  t.ok(peak !== null && peak.rssKiB >= 32 * 1024, 'the 32 MiB just touched are in the peak')
  t.ok(peak !== null && peak.anonKiB !== null && peak.anonKiB >= 32 * 1024, 'and in its own part, not the file-backed one')
  t.equal(grown[grown.length - 1], 1)
})
