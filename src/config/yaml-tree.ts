/**
 * YAML text to plain values, with `${NAME}` replaced from the environment and the line of
 * every key path remembered, so later checks can say where a problem is.
 */

import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml'
import type { Document, Node as YamlNode } from 'yaml'
import { itemPath, keyPath, Problems } from './problems.js'

/** Stands in for a value whose problem was already reported, so it is not reported twice. */
export const REPORTED: unique symbol = Symbol('reported')

export interface YamlTree {
  /** plain objects, arrays and scalars; REPORTED where substitution failed */
  value: unknown
  /** false after YAML syntax errors: then value is undefined and not worth checking */
  parsed: boolean
  problems: Problems
  /** key paths whose whole value was one `${NAME}`: such strings may stand for numbers */
  fromEnv: Set<string>
}

type Env = Record<string, string | undefined>

const REFERENCE = /\$\$\{|\$\{([^}]*)\}/g
const WHOLE_REFERENCE = /^\$\{[^}]*\}$/
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const MAX_NODES = 100_000

/** Parse YAML text; syntax errors end the walk, since a broken tree only yields noise. */
export function readYamlTree(text: string, env: Env): YamlTree {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true })
  const lines = new Map<string, number>()
  const problems = new Problems(lines)
  const fromEnv = new Set<string>()
  if (doc.errors.length > 0) {
    for (const error of doc.errors) {
      const firstLine = error.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')
      problems.addAt('yaml', firstLine, error.linePos?.[0].line)
    }
    return { value: undefined, parsed: false, problems, fromEnv }
  }
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line

  // aliases may loop back to an ancestor or fan out exponentially ("billion laughs")
  const onStack = new Set<unknown>()
  let visits = 0
  const walk = (node: unknown, path: string): unknown => {
    if (isAlias(node)) node = node.resolve(doc as Document)
    if (node == null) return null
    if (onStack.has(node)) {
      problems.add(path || '(root)', 'an alias refers to a mapping or list that contains it')
      return REPORTED
    }
    if (++visits > MAX_NODES) {
      if (visits === MAX_NODES + 1) problems.add(path || '(root)', `more than ${MAX_NODES} values once aliases are expanded`)
      return REPORTED
    }
    const range = (node as YamlNode).range
    if (range && path !== '' && !lines.has(path)) lines.set(path, lineAt(range[0]))
    if (isMap(node)) {
      onStack.add(node)
      const out: Record<string, unknown> = {}
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : undefined
        if (key === undefined) {
          problems.add(path === '' ? '(root)' : path, 'keys must be plain strings')
          continue
        }
        const childPath = keyPath(path, key)
        const keyRange = (pair.key as YamlNode).range
        if (keyRange) lines.set(childPath, lineAt(keyRange[0]))
        // defineProperty: a key named __proto__ must stay a plain key
        Object.defineProperty(out, key, { value: walk(pair.value, childPath), enumerable: true, writable: true, configurable: true })
      }
      onStack.delete(node)
      return out
    }
    if (isSeq(node)) {
      onStack.add(node)
      const items = node.items.map((item, index) => walk(item, itemPath(path, index)))
      onStack.delete(node)
      return items
    }
    if (isScalar(node)) {
      const value = node.value
      return typeof value === 'string' ? substitute(value, path) : value
    }
    return null
  }

  const substitute = (value: string, path: string): unknown => {
    if (!value.includes('${')) return value
    let failed = false
    const replaced = value.replace(REFERENCE, (match: string, name: string | undefined) => {
      if (match === '$${') return '${'
      if (name === undefined || !ENV_NAME.test(name)) {
        problems.add(path, `\${${name ?? ''}} is not a valid environment variable reference`)
        failed = true
        return ''
      }
      const set = env[name]
      if (set === undefined) {
        problems.add(path, `environment variable ${name} is not set`)
        failed = true
        return ''
      }
      return set
    })
    if (failed) return REPORTED
    if (WHOLE_REFERENCE.test(value)) fromEnv.add(path)
    return replaced
  }

  const value = walk(doc.contents, '')
  return { value, parsed: true, problems, fromEnv }
}
