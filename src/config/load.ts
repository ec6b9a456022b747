/**
 * Configuration text or file to a frozen Config: YAML with positions, `${NAME}` from the
 * environment, one schema with defaults, then deep-freeze. Every problem is collected and
 * thrown together in one ConfigError.
 */

import type { Config } from './types.js'
import { ConfigError } from './config-error.js'
import { h2Problems } from './h2.js'
import { configSchema } from './schema.js'
import { readYamlTree } from './yaml-tree.js'

const { readFileSync } = process.getBuiltinModule('node:fs')

export { ConfigError } from './config-error.js'
export { validateRolloutSteps } from './rollout-steps.js'

export type Env = Record<string, string | undefined>

export interface ParseOptions {
  /** where `${NAME}` is looked up; default process.env */
  env?: Env
  /** named in the error message, e.g. the file path */
  source?: string
}

/** Parse and validate YAML text; throws ConfigError listing every problem. */
export function parseConfig(text: string, options: ParseOptions = {}): Config {
  const tree = readYamlTree(text, options.env ?? process.env)
  const { problems } = tree
  let config: unknown
  if (tree.parsed) {
    if (tree.value == null) problems.add('(root)', 'the configuration is empty: at least control.token and pools are needed')
    else config = configSchema(tree.value, '', { problems, fromEnv: tree.fromEnv })
  }
  if (problems.size === 0) h2Problems(config as Config, problems)
  if (problems.size > 0) throw new ConfigError(problems.format(), options.source)
  // no problems: every required key is present and every value has its type
  return deepFreeze(config as Config)
}

/** Read and parse a config file; an unreadable file is one problem naming the path. */
export function loadConfigFile(path: string, env: Env = process.env): Config {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error'
    throw new ConfigError([`${path}: cannot read the file (${code})`], path)
  }
  return parseConfig(text, { env, source: path })
}

/** Freeze an object and everything below it. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}
