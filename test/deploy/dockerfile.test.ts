/**
 * The Dockerfile cannot be built here (no Docker engine), so this checks what a build
 * would trip over: COPY sources that do not exist or that .dockerignore drops, the
 * runtime stage's contents and settings, and the entrypoint's argument handling.
 */

import t from 'tap'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { cutoverNodeFlags } from '../../bench/cutover-proxy.mjs'

const ROOT = resolve(import.meta.dirname, '../..')
/** node's flags as bin/cutover.js's first line names them: the image starts node with the same. */
const FLAGS = cutoverNodeFlags(join(ROOT, 'bin', 'cutover.js'))
const NODE = ['node', ...FLAGS].join(' ')
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8')

interface Instruction {
  op: string
  args: string
  stage: number
}

/** Instructions with continuation lines joined and comments dropped, tagged by stage. */
function parse(text: string): { instructions: Instruction[]; stages: string[] } {
  const instructions: Instruction[] = []
  const stages: string[] = []
  const logical = text.replace(/\\\n(\s*#.*\n)*/g, ' ').split('\n')
  for (const line of logical) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line)
    if (!m || line.trim().startsWith('#')) continue
    const op = m[1].toUpperCase()
    if (op === 'FROM') stages.push(m[2].trim())
    instructions.push({ op, args: m[2].trim(), stage: stages.length - 1 })
  }
  return { instructions, stages }
}

const dockerfile = parse(read('Dockerfile'))
const last = dockerfile.stages.length - 1
const inStage = (stage: number, op: string) => dockerfile.instructions.filter((i) => i.stage === stage && i.op === op)
const runtime = (op: string) => inStage(last, op)

function copies(stage: number) {
  return inStage(stage, 'COPY').map(({ args }) => {
    const words = args.split(/\s+/)
    const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length)
    const paths = words.filter((w) => !w.startsWith('--'))
    return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! }
  })
}

t.test('stages: build and runtime on node:24-bookworm-slim (Node 24 LTS)', async (t) => {
  t.same(dockerfile.stages, ['node:24-bookworm-slim AS build', 'node:24-bookworm-slim AS runtime'])
  const build = inStage(0, 'RUN')
    .map((i) => i.args)
    .join('\n')
  t.match(build, /npm ci\b/)
  t.match(build, /npm run build/)
  t.match(build, /npm prune --omit=dev/)
})

t.test('every COPY from the build context exists and is not dockerignored', async (t) => {
  const ignored = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
  for (const required of ['node_modules', 'dist', '.git', 'bench/results', 'coverage', '.tap', 'var']) {
    t.ok(ignored.includes(required), `.dockerignore has ${required}`)
  }
  const context = [0, last].flatMap((s) => copies(s)).filter((c) => c.from === undefined)
  t.ok(context.length >= 5, 'found the context COPYs')
  for (const { sources } of context) {
    for (const src of sources) {
      t.ok(existsSync(join(ROOT, src)), `${src} exists in the repo`)
      t.notOk(
        ignored.some((p) => src === p || src.startsWith(p + '/')),
        `${src} is not excluded by .dockerignore`,
      )
    }
  }
})

t.test('runtime stage holds only dist, bin, config, package.json, production node_modules', async (t) => {
  const got = copies(last)
    .map((c) => (c.from ? `${c.from}:${c.sources.join(' ')}` : c.sources.join(' ')))
    .sort()
  t.same(got, ['bin', 'build:/app/dist', 'build:/app/node_modules', 'config', 'package.json'])
  // dist/ is where tsc writes, and the build stage works in /app.
  const tsconfig = JSON.parse(read('tsconfig.json'))
  t.equal(tsconfig.compilerOptions.outDir, 'dist')
  t.same(
    inStage(0, 'WORKDIR').map((i) => i.args),
    ['/app'],
  )
  t.same(
    runtime('WORKDIR').map((i) => i.args),
    ['/app'],
  )
})

t.test('runtime settings', async (t) => {
  t.same(
    runtime('USER').map((i) => i.args),
    ['10001:10001'],
  )
  t.match(
    runtime('RUN')
      .map((i) => i.args)
      .join('\n'),
    /useradd --uid 10001/,
  )
  t.same(
    runtime('ENV').map((i) => i.args),
    ['NODE_ENV=production'],
  )
  t.same(
    runtime('EXPOSE').map((i) => i.args),
    ['8080 9901'],
  )
  t.same(
    runtime('VOLUME').map((i) => JSON.parse(i.args)),
    [['/var/lib/cutover']],
  )
  const health = runtime('HEALTHCHECK')
  t.equal(health.length, 1)
  t.match(health[0].args, /CMD \["node", "-e", "fetch\('http:\/\/127\.0\.0\.1:9901\/healthz'\)/)
  t.ok(FLAGS.length > 0, 'bin/cutover.js names node flags')
  t.same(JSON.parse(runtime('CMD')[0].args), ['node', ...FLAGS, 'bin/cutover.js', '--config', '/etc/cutover/cutover.yaml'])
  const pkg = JSON.parse(read('package.json'))
  t.equal(pkg.bin.cutover, 'bin/cutover.js', 'CMD runs the package bin')
})

t.test('entrypoint passes arguments through to cutover', async (t) => {
  const entry = JSON.parse(runtime('ENTRYPOINT')[0].args) as string[]
  t.same(entry.slice(0, 2), ['/bin/sh', '-c'])
  // Run the entrypoint's own script with exec turned into print-and-exit.
  const script = 'run() { echo "$@"; exit 0; }; ' + entry[2].replaceAll('exec ', 'run ')
  const run = (...args: string[]) => execFileSync('/bin/sh', ['-c', script, ...entry.slice(3), ...args], { encoding: 'utf8' }).trim()
  const cmd = JSON.parse(runtime('CMD')[0].args) as string[]
  t.equal(run(...cmd), `${NODE} bin/cutover.js --config /etc/cutover/cutover.yaml`, 'the default CMD runs as is')
  t.equal(run('check', '--config', '/x.yaml'), `${NODE} bin/cutover.js check --config /x.yaml`)
  t.equal(run('--config', '/x.yaml'), `${NODE} bin/cutover.js --config /x.yaml`)
  t.equal(run('ctl', 'status'), `${NODE} bin/cutover.js ctl status`)
})
