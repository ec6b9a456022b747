/**
 * The one error a bad configuration raises: every problem found, one line each, so an
 * operator fixes the file in one pass instead of one error per run.
 */

import { CutoverError } from '../errors.js'

export class ConfigError extends CutoverError {
  /** one line per problem, each starting with the key path: `proxy.lisen: unknown key (line 2)` */
  readonly problems: string[]

  constructor(problems: string[], source = 'configuration') {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`
    super('CUTOVER_ERR_CONFIG_INVALID', `invalid ${source}: ${count}\n${problems.join('\n')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}
