/**
 * The command line (SPEC section 1): run the proxy, check a config, run the demo, or talk
 * to a running cutover's control API.
 */

// biome-ignore lint/correctness/noNodejsModules: node:cluster's typings describe the ES module, not the object getBuiltinModule returns; its namespace loads nothing more
import cluster from 'node:cluster'
import pino from 'pino'
import { startCutover } from './app.js'
import { systemClock, systemRandom } from './clock.js'
import type { Config } from './config/types.js'
import type { EventLog } from './state/events.js'
import { lowerHelperThreads } from './helper-threads.js'
import { runCheck } from './config/check.js'
import { ConfigError } from './config/config-error.js'
import { loadConfigFile } from './config/load.js'

const { readFileSync } = process.getBuiltinModule('node:fs')
const { availableParallelism } = process.getBuiltinModule('node:os')
const { parseArgs } = process.getBuiltinModule('node:util')

const DEFAULT_CONFIG = 'config/cutover.yaml'

const USAGE = `usage:
  cutover [--config FILE]          run the proxy (default FILE: ${DEFAULT_CONFIG})
  cutover check [--config FILE]    validate a config and print the effective config
  cutover demo [flags]             proxy + simulated x and y Kong pools (--help for flags)
  cutover ctl <command> [flags]    talk to a running cutover (--help for commands)
  cutover --version`

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

function configPath(argv: string[]): string {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' } }, strict: true, allowPositionals: false })
  return values.config ?? DEFAULT_CONFIG
}

/** What the signal handlers need of a running cutover, in either mode. */
interface Running {
  events: EventLog
  reload(config: Config): unknown
  close(): Promise<void>
}

/** The number of proxy processes `proxy.workers` asks for. */
export function workerCount(workers: Config['proxy']['workers']): number {
  return workers === 'auto' ? availableParallelism() : workers
}

async function start(config: Config, logger: pino.Logger): Promise<Running> {
  const count = workerCount(config.proxy.workers)
  if (count <= 1) return startCutover(config, { logger })
  const { startPrimary } = await import('./cluster/primary.js')
  const primary = await startPrimary(config, count, logger, systemClock)
  return { events: primary.control.events, reload: (next) => primary.reload(next), close: () => primary.close() }
}

/** Run the proxy in the foreground until SIGTERM/SIGINT; SIGHUP reloads the config. */
async function run(argv: string[]): Promise<number> {
  lowerHelperThreads()
  if (cluster.isWorker) {
    const { runWorker } = await import('./cluster/worker.js')
    return runWorker(systemClock, systemRandom)
  }
  const path = configPath(argv)
  let config: Config
  try {
    config = loadConfigFile(path)
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const problem of err.problems) process.stderr.write(`${problem}\n`)
      return 1
    }
    throw err
  }
  const logger = pino({ level: config.log.level })
  let cutover: Running
  try {
    cutover = await start(config, logger)
  } catch (err) {
    logger.fatal({ err }, `cannot start: ${(err as Error).message}`)
    return 1
  }
  const running = cutover
  return new Promise<number>((resolve) => {
    let stopping = false
    const stop = (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting without waiting for the drain')
        resolve(1)
        return
      }
      stopping = true
      logger.info({ signal }, 'draining: no new connections, waiting for in-flight requests')
      running.close().then(
        () => resolve(0),
        (err) => {
          logger.error({ err }, 'error while stopping')
          resolve(1)
        },
      )
    }
    process.on('SIGTERM', () => stop('SIGTERM'))
    process.on('SIGINT', () => stop('SIGINT'))
    process.on('SIGHUP', () => {
      let next: Config
      try {
        next = loadConfigFile(path)
      } catch (err) {
        const problems = err instanceof ConfigError ? err.problems : [(err as Error).message]
        logger.error({ path, problems }, 'config reload refused: the running config stays')
        running.events.add('config.reload_refused', { cause: 'reload', path, problems })
        return
      }
      Promise.resolve()
        .then(() => running.reload(next))
        .catch((err: unknown) => {
          logger.error({ err }, 'config reload failed')
          running.events.add('config.reload_refused', { cause: 'reload', path, problems: [(err as Error).message] })
        })
    })
  })
}

/** Entry point: returns the process exit status. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'check':
        return runCheck(
          configPath(rest),
          process.env,
          (line) => process.stdout.write(`${line}\n`),
          (line) => process.stderr.write(`${line}\n`),
        )
      case 'demo': {
        const { runDemo } = await import('./demo/demo.js')
        return await runDemo(rest)
      }
      case 'ctl': {
        const { runCtl } = await import('./ctl/ctl.js')
        return await runCtl(rest)
      }
      case '--version':
      case '-v':
        process.stdout.write(`${version()}\n`)
        return 0
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(`${USAGE}\n`)
        return 0
      default:
        if (command === undefined || command.startsWith('-')) return await run(argv)
        process.stderr.write(`cutover: unknown command '${command}'\n${USAGE}\n`)
        return 2
    }
  } catch (err) {
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`cutover: ${(err as Error).message}\n${USAGE}\n`)
      return 2
    }
    throw err
  }
}
