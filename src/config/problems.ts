/**
 * Collects configuration problems with the key path they concern and, where the YAML
 * gave one, the line; formats them as the one-line-each list operators see.
 */

export interface Problem {
  path: string
  message: string
  line?: number
}

/** `a.b` for a key below `a`; the bare key at the root. */
export function keyPath(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`
}

/** `a.b[1]` for an item of the list at `a.b`. */
export function itemPath(parent: string, index: number): string {
  return `${parent}[${index}]`
}

const LAST_SEGMENT = /(?:\.[^.[\]]*|\[\d+\])$/

export class Problems {
  readonly list: Problem[] = []
  readonly #lines: ReadonlyMap<string, number>

  constructor(lines: ReadonlyMap<string, number> = new Map()) {
    this.#lines = lines
  }

  get size(): number {
    return this.list.length
  }

  /** Record a problem at a key path; the line is the key's own or, for a missing key, its parent's. */
  add(path: string, message: string): void {
    this.list.push({ path, message, line: this.lineOf(path) })
  }

  /** Record a problem whose line is already known (YAML syntax errors). */
  addAt(path: string, message: string, line: number | undefined): void {
    this.list.push({ path, message, line })
  }

  /** The line of a key path, or of its nearest ancestor that has one. */
  lineOf(path: string): number | undefined {
    for (let p = path; p !== ''; ) {
      const line = this.#lines.get(p)
      if (line !== undefined) return line
      const shorter = p.replace(LAST_SEGMENT, '')
      if (shorter === p) break
      p = shorter
    }
    return undefined
  }

  /** One line per problem, in file order; problems without a line keep their order at the end. */
  format(): string[] {
    const sorted = this.list.map((problem, index) => ({ problem, index })).sort((a, b) => (a.problem.line ?? Infinity) - (b.problem.line ?? Infinity) || a.index - b.index)
    return sorted.map(({ problem }) => formatProblem(problem))
  }
}

/** `path: message (line N)`. */
export function formatProblem(problem: Problem): string {
  const where = problem.line === undefined ? '' : ` (line ${problem.line})`
  return `${problem.path}: ${problem.message}${where}`
}
