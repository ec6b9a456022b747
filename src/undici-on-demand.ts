/**
 * undici, loaded the first time something needs it: shadow copies, drift reads over TLS,
 * Prometheus queries and step hooks. The data plane never uses it (it has its own HTTP/1.1
 * engine), so a cutover without those features does not carry its ~6 MiB.
 */
type Undici = typeof import('undici')

let loading: Promise<Undici> | undefined

/** The undici module, imported once. */
export function undici(): Promise<Undici> {
  loading ??= import('undici')
  return loading
}
