import t from 'tap'
import { summarize } from '../../bench/p99-floor.mjs'

const run = (p99: number, cpuUs = 30, cpuPct = 70) => ({ p99, cpuUs, cpuPct })

t.test('each median p99 is a ratio to the median of nginx, every run listed', async (t) => {
  const lines = summarize({
    nginx: [run(1), run(9), run(2)],
    raw: [run(3), run(3.5), run(40)],
  })
  t.match(lines[0], /^nginx +p99 median 2\.00 ms \(1\.00x nginx\), runs 1\.00, 9\.00, 2\.00;/)
  t.match(lines[1], /^raw +p99 median 3\.50 ms \(1\.75x nginx\), runs 3\.00, 3\.50, 40\.00; cpu\/req median 30\.0 us, cpu% 70, 70, 70$/)
})

t.test('without nginx there is nothing to compare to', async (t) => {
  t.throws(() => summarize({ raw: [run(1)] }), /no nginx runs/)
})
