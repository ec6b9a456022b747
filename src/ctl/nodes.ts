/**
 * `cutover ctl nodes drain|maint|ready|weight POOL NODE [N|reset] [--force]` (issue 14):
 * the request each verb makes to PUT /v1/nodes/{pool}/{node}. Pure: the arguments in, the
 * request or a usage error out.
 */

import { CutoverError } from '../errors.js'

export const NODE_VERBS = ['drain', 'maint', 'ready', 'weight'] as const
export type NodeVerb = (typeof NODE_VERBS)[number]

export interface NodeRequest {
  path: string
  body: { admin?: 'drain' | 'maint' | 'ready'; weight?: number | null; force?: boolean }
}

function usage(message: string): CutoverError {
  return new CutoverError('CUTOVER_ERR_USAGE', message)
}

/** The request for `nodes <verb> <pool> <node> [value]`. */
export function nodeRequest(args: readonly string[], force: boolean): NodeRequest {
  const [verb, pool, node, value, ...rest] = args
  if (!(NODE_VERBS as readonly string[]).includes(verb)) throw usage(`nodes: expected drain, maint, ready or weight, got '${verb}'`)
  if (pool !== 'x' && pool !== 'y') throw usage(`nodes ${verb}: expected the pool, x or y, got ${pool === undefined ? 'nothing' : `'${pool}'`}`)
  if (!node) throw usage(`nodes ${verb}: expected the node's name as ctl nodes shows it`)
  const path = `/v1/nodes/${pool}/${encodeURIComponent(node)}`
  if (verb === 'weight') {
    if (rest.length) throw usage(`nodes weight: unexpected '${rest.join(' ')}'`)
    if (value === 'reset') return { path, body: { weight: null } }
    const weight = Number(value)
    if (value === undefined || value.trim() === '' || !(weight > 0 && weight <= 1000))
      throw usage(`nodes weight: expected a weight above 0 and at most 1000, or reset, got ${value === undefined ? 'nothing' : `'${value}'`}`)
    return { path, body: { weight } }
  }
  if (value !== undefined) throw usage(`nodes ${verb}: unexpected '${[value, ...rest].join(' ')}'`)
  const admin = verb as 'drain' | 'maint' | 'ready'
  return { path, body: force && admin !== 'ready' ? { admin, force: true } : { admin } }
}
