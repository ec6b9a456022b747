import t from 'tap'
import { formatDuration, parseDuration } from '../../src/config/duration.js'

t.test('parseDuration reads a number with a unit as ms', async (t) => {
  t.equal(parseDuration('250ms'), 250)
  t.equal(parseDuration('2s'), 2000)
  t.equal(parseDuration('1.5s'), 1500)
  t.equal(parseDuration('1.1s'), 1100, 'no floating point residue')
  t.equal(parseDuration('5m'), 300_000)
  t.equal(parseDuration('1h'), 3_600_000)
  t.equal(parseDuration('0s'), 0)
  t.equal(parseDuration(' 3s '), 3000, 'surrounding blanks are ignored')
})

t.test('parseDuration refuses what is not a duration', async (t) => {
  for (const bad of ['30', '', 's', '-1s', '2 s', '2sec', '1d', '1e3ms', '.5s', '2s5', 'abc']) {
    t.equal(parseDuration(bad), undefined, JSON.stringify(bad))
  }
  for (const bad of [30, null, undefined, true, {}, ['2s']]) t.equal(parseDuration(bad), undefined, String(bad))
})

t.test('formatDuration uses the largest unit that holds it whole', async (t) => {
  t.equal(formatDuration(250), '250ms')
  t.equal(formatDuration(2000), '2s')
  t.equal(formatDuration(1500), '1500ms')
  t.equal(formatDuration(90_000), '90s')
  t.equal(formatDuration(300_000), '5m')
  t.equal(formatDuration(7_200_000), '2h')
  t.equal(formatDuration(0), '0s')
  for (const ms of [1, 250, 1500, 2000, 90_000, 300_000, 5_400_000, 0.5]) t.equal(parseDuration(formatDuration(ms)), ms, `round trip ${ms}`)
})
