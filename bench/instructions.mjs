// CPU work per request as instruction counts, which a loaded machine does not blur: cutover
// (this checkout's dist/, the bench's generated config: health checks, gates, metrics on)
// runs under `valgrind --tool=callgrind` with instrumentation off until warmed up, then
// `--requests` GETs go closed-loop over `--connections` keep-alive connections and the
// instructions executed meanwhile are divided by the count. The split: V8's compilers
// (one-off, left out of `mutator`), its garbage collector, and the rest; `readPath` is the
// request path alone (see readPathCost), the figure bench/README.md compares.
//
//   node bench/instructions.mjs [--requests 3000] [--warmup 5000] [--connections 20] [--path /] [--node PATH] [--flags "--a=1 --b=2"] [--keep]
//
// cutover runs with V8's `--single-threaded` (no background compiler or GC threads), so
// optimisation happens at the same request in every run and the counts repeat within a
// few per cent. Needs valgrind (callgrind_control, callgrind_annotate). Slow: about 50x
// under instrumentation; a run takes a minute or two on an idle machine.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { freePort, getStatus, hasCommand, startChild, waitFor } from './children.mjs'
import { cutoverConfig, cutoverNodeFlags } from './cutover-proxy.mjs'
import { startUpstream } from './upstream.mjs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

// self cost of these functions is V8 compiling (one-off) or collecting garbage
const COMPILE =
  /compiler::|maglev|Maglev|Compiler|Compile|Parser|Parse|Scanner|Bytecode|Zone|Ast[A-Z]|DeclarationScope|Scope::|Deoptimiz|Turboshaft|turboshaft|JSHeapBroker|Pipeline|InstructionSelector|RegisterAllocator|LiveRange|MoveOptimizer|CodeGenerator|Assembler|SourcePosition/
const GC =
  /Marking|Marker|Sweep|Scaveng|heap::|Heap::|GCTracer|Evacuat|MemoryChunk|MarkCompact|MinorMC|RootVisitor|IterateObjectCache|PagedSpace|NewSpace|SemiSpace|Worklist|Compaction|RememberedSet|SlotSet|ActiveSystemPages|LocalHeap|MemoryAllocator|BodyDescriptor|IteratePointers|SizeFromMap|ShouldVisit|Visitor|GlobalHandles|Safepoint|ArrayBufferSweeper|ArrayBufferList|Page::|LargeObjectSpace|cppgc/

/** Self cost per function of a callgrind dump, summed into total, compile and gc. */
export function splitCost(annotateOutput) {
  const sum = { total: 0, compile: 0, gc: 0 }
  for (const line of annotateOutput.split('\n')) {
    const m = /^\s*([\d,]+) \([ \d.]+%\)\s+(.*)$/.exec(line)
    if (!m) continue
    const ir = Number(m[1].replace(/,/g, ''))
    if (m[2].includes('PROGRAM TOTALS')) sum.total = ir
    else if (COMPILE.test(m[2])) sum.compile += ir
    else if (GC.test(m[2])) sum.gc += ir
  }
  return sum
}

/**
 * Inclusive cost of libuv's uv__read (all a read sets off: parse, route, forward, write,
 * its garbage) minus V8's optimising and lazy compiles: the request path without one-off
 * work and without timers (health probes, gate and metrics ticks).
 */
export function readPathCost(inclusiveOutput) {
  const find = (re) => {
    for (const line of inclusiveOutput.split('\n')) {
      const m = /^\s*([\d,]+) \([ \d.]+%\)\s+(.*)$/.exec(line)
      if (m && re.test(m[2])) return Number(m[1].replace(/,/g, ''))
    }
    return 0
  }
  return find(/stream\.c:uv__read /) - find(/Runtime_CompileOptimized/) - find(/v8::internal::Compiler::Compile\(v8::internal::Isolate\*, v8::internal::Handle<v8::internal::JSFunction>/)
}

/** Closed loop: `total` GETs over `connections` keep-alive connections; resolves when all are answered. */
function load(port, path, total, connections) {
  const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: bench\r\nUser-Agent: instructions\r\nAccept: */*\r\n\r\n`)
  let sent = 0
  let done = 0
  const sockets = []
  return new Promise((resolve, reject) => {
    for (let c = 0; c < Math.min(connections, total); c++) {
      const s = net.connect(port, '127.0.0.1')
      sockets.push(s)
      let buf = ''
      let need = -1
      const next = () => {
        if (sent < total) {
          sent++
          s.write(request)
        }
      }
      s.setEncoding('latin1')
      s.on('data', (d) => {
        buf += d
        for (;;) {
          if (need < 0) {
            const end = buf.indexOf('\r\n\r\n')
            if (end < 0) return
            const m = /content-length: *(\d+)/i.exec(buf.slice(0, end))
            if (!m || !buf.startsWith('HTTP/1.1 200')) return reject(new Error(`unexpected answer: ${buf.slice(0, 200)}`))
            need = end + 4 + Number(m[1])
          }
          if (buf.length < need) return
          buf = buf.slice(need)
          need = -1
          if (++done === total) {
            for (const x of sockets) x.destroy()
            resolve()
          } else next()
        }
      })
      s.on('error', reject)
      next()
    }
  })
}

async function main() {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '3000' },
      warmup: { type: 'string', default: '5000' },
      connections: { type: 'string', default: '20' },
      path: { type: 'string', default: '/' },
      node: { type: 'string', default: process.execPath },
      // node flags for cutover; default: bin/cutover.js's own (cutoverNodeFlags)
      flags: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    process.stdout.write('node bench/instructions.mjs [--requests 3000] [--warmup 5000] [--connections 20] [--path /] [--node PATH] [--flags "--a=1 --b=2"] [--keep]\n')
    return
  }
  for (const cmd of ['valgrind', 'callgrind_control', 'callgrind_annotate']) if (!hasCommand(cmd)) throw new Error(`${cmd} is not installed (apt-get install valgrind)`)
  const requests = Number(values.requests)
  const connections = Number(values.connections)
  const up = await startUpstream(2)
  const dir = mkdtempSync(join(tmpdir(), 'cutover-instructions-'))
  const route = { port: await freePort(), controlPort: await freePort(), x: [up.ports[0]], y: [up.ports[1]], sticky: null }
  writeFileSync(join(dir, 'cutover.yaml'), cutoverConfig(dir, route))
  const args = [
    '--tool=callgrind',
    '--smc-check=all-non-file',
    '--instr-atstart=no',
    `--callgrind-out-file=${dir}/callgrind.%p`,
    values.node,
    '--single-threaded',
    ...(values.flags === undefined ? cutoverNodeFlags() : values.flags.split(' ').filter(Boolean)),
    join(ROOT, 'bin', 'cutover.js'),
    '--config',
    join(dir, 'cutover.yaml'),
  ]
  const cutover = startChild('valgrind', args, { cwd: dir })
  try {
    const ready = await waitFor(async () => (await getStatus(route.controlPort, '/readyz')) === 200 && (await getStatus(route.port)) === 200, { timeoutMs: 300_000, exited: cutover.exited })
    if (!ready) throw new Error(`cutover did not start under valgrind:\n${cutover.output()}`)
    await load(route.port, values.path, Number(values.warmup), connections)
    const pid = String(cutover.pid)
    execFileSync('callgrind_control', ['--instr=on', pid], { stdio: 'ignore' })
    execFileSync('callgrind_control', ['--zero', pid], { stdio: 'ignore' })
    await load(route.port, values.path, requests, connections)
    execFileSync('callgrind_control', ['--dump', pid], { stdio: 'ignore' })
    const dump = readdirSync(dir).find((f) => /^callgrind\.\d+\.1$/.test(f))
    if (dump === undefined) throw new Error(`no callgrind dump in ${dir}`)
    const sum = splitCost(execFileSync('callgrind_annotate', ['--threshold=100', join(dir, dump)], { encoding: 'utf8', maxBuffer: 1 << 28 }))
    const readPath = readPathCost(execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', join(dir, dump)], { encoding: 'utf8', maxBuffer: 1 << 28 }))
    const per = (n) => Math.round(n / requests)
    const result = { requests, warmup: Number(values.warmup), connections, path: values.path, node: execFileSync(values.node, ['--version'], { encoding: 'utf8' }).trim() }
    Object.assign(result, { total: per(sum.total), compile: per(sum.compile), gc: per(sum.gc), mutator: per(sum.total - sum.compile - sum.gc), readPath: per(readPath) })
    if (values.keep) result.dump = join(dir, dump)
    process.stdout.write(`${JSON.stringify(result)}\n`)
  } finally {
    await cutover.stop(3000)
    await up.close()
    if (!values.keep) rmSync(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`instructions: ${err.message}\n`)
      process.exit(1)
    },
  )
}
