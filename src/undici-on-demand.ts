/**
 * undici, loaded the first time something needs it: drift reads, Prometheus queries and
 * step hooks (shadow copies have their own lean client, src/shadow/y-client.ts). The data plane never uses it (it has its own HTTP/1.1
 * engine), so a cutover without those features does not carry its ~6 MiB.
 */
type Undici = typeof import('undici')

let loading: Promise<Undici> | undefined

/** The undici module, imported once. */
export function undici(): Promise<Undici> {
  loading ??= import('undici')
  return loading
}
