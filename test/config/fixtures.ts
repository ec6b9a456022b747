/** Shared bits of the config tests: a minimal valid file and a problem-list helper. */

import { parseConfig } from '../../src/config/load.js'
import type { Config } from '../../src/config/types.js'

export const TOKEN = 'secret-token-123'
export const ENV = { CUTOVER_TOKEN: TOKEN }

export const MINIMAL = `control:
  token: ${TOKEN}
pools:
  x: { nodes: [http://127.0.0.1:8001] }
  y: { nodes: [] }
`

/** Parse text expected to be valid. */
export function valid(text: string, env: Record<string, string | undefined> = ENV): Config {
  return parseConfig(text, { env })
}

/** The problems of text expected to be invalid; [] when it parsed (so an assertion fails). */
export function problemsOf(text: string, env: Record<string, string | undefined> = ENV): readonly string[] {
  try {
    parseConfig(text, { env })
    return []
  } catch (err) {
    const problems = (err as { problems?: readonly string[] }).problems
    if (problems === undefined) throw err
    return problems
  }
}
