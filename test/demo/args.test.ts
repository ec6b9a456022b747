import t from 'tap'
import { DEFAULT_FLAGS, parseDemoArgs, parseDurationFlag } from '../../src/demo/args.js'

t.test('no flags: the defaults', async (t) => {
  t.same(parseDemoArgs([]), { port: 8080, controlPort: 9901, yErrorRate: 0, yLatencyMs: 0, yReadyAfterMs: 3000, rps: 100, split: 10, quiet: false })
  t.same(parseDemoArgs([]), DEFAULT_FLAGS)
})

t.test('every flag, in both --flag value and --flag=value forms', async (t) => {
  const flags = parseDemoArgs([
    '--port',
    '0',
    '--control-port=9911',
    '--y-error-rate',
    '0.2',
    '--y-latency=300ms',
    '--y-ready-after',
    '5s',
    '--rps',
    '0',
    '--split=50.25',
    '--token',
    'secret-token-1',
    '--quiet',
  ])
  t.same(flags, { port: 0, controlPort: 9911, yErrorRate: 0.2, yLatencyMs: 300, yReadyAfterMs: 5000, rps: 0, split: 50.25, token: 'secret-token-1', quiet: true })
})

t.test('--help and -h ask for the usage', async (t) => {
  t.equal(parseDemoArgs(['--help']), null)
  t.equal(parseDemoArgs(['--rps', '5', '-h']), null)
})

t.test('durations', async (t) => {
  t.equal(parseDurationFlag('250ms'), 250)
  t.equal(parseDurationFlag('1.5s'), 1500)
  t.equal(parseDurationFlag('2m'), 120_000)
  t.equal(parseDurationFlag('0'), 0)
  t.equal(parseDurationFlag('300'), null, 'a bare number is ambiguous')
  t.equal(parseDurationFlag('5 h'), null)
})

const bad: Array<[string, string[]]> = [
  ['unknown flag', ['--colour']],
  ['positional', ['demo']],
  ['missing value', ['--port']],
  ['port not a number', ['--port', 'http']],
  ['port too big', ['--port', '70000']],
  ['negative port', ['--control-port=-1']],
  ['error rate above 1', ['--y-error-rate', '1.5']],
  ['error rate as percent sign', ['--y-error-rate', '20%']],
  ['empty error rate', ['--y-error-rate=']],
  ['latency without unit', ['--y-latency', '300']],
  ['ready-after nonsense', ['--y-ready-after', 'soon']],
  ['negative rps', ['--rps', '-1']],
  ['split above 100', ['--split', '101']],
  ['split with three decimals', ['--split', '10.125']],
  ['short token', ['--token', 'abc']],
  ['token with a space', ['--token', 'abc def ghi']],
  ['quiet with a value', ['--quiet=yes']],
  ['same port twice', ['--port', '9000', '--control-port', '9000']],
]
for (const [name, argv] of bad) {
  t.test(`refused: ${name}`, async (t) => {
    t.throws(() => parseDemoArgs(argv), { code: 'CUTOVER_ERR_USAGE' })
    try {
      parseDemoArgs(argv)
    } catch (err) {
      t.notMatch((err as Error).message, /\n/, 'one line')
    }
  })
}

t.test('port 0 for both is fine: each gets its own free port', async (t) => {
  t.match(parseDemoArgs(['--port', '0', '--control-port', '0']), { port: 0, controlPort: 0 })
})
