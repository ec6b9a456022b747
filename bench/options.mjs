// Command-line options the bench's scripts share.
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** ../shared/perf-probes beside the checkout: the default of every --probes option. */
export const PROBES_DIR = resolve(fileURLToPath(new URL('..', import.meta.url)), '..', 'shared', 'perf-probes')

/** parseArgs' string value of --name as a whole number from 1 to max, else an error that names the option. */
export function wholeNumber(values, name, max) {
  const n = Number(values[name])
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name} ${values[name]}: want a whole number from 1 to ${max}`)
  return n
}
