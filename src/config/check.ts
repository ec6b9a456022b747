/**
 * `cutover check --config FILE`: validate a config file and print either the effective
 * config (exit 0) or one line per problem (exit 1).
 */

import { ConfigError } from './config-error.js'
import { loadConfigFile, type Env } from './load.js'
import { formatEffectiveConfig } from './print.js'

/** Check the file at path; prints to out or err line by line and returns the exit status. */
export function runCheck(path: string, env: Env, out: (line: string) => void, err: (line: string) => void): number {
  try {
    const config = loadConfigFile(path, env)
    out(`# ${path}: valid; the effective configuration follows`)
    for (const line of formatEffectiveConfig(config).trimEnd().split('\n')) out(line)
    return 0
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    for (const problem of error.problems) err(problem)
    return 1
  }
}
