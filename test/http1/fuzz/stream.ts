/**
 * One normalized form for what a parser made of a byte stream, whoever parsed it (llhttp or
 * cutover's codec), and the verdict that compares the two. The rule (issue 10, point 1):
 * wherever llhttp refuses, cutover refuses; wherever both accept, they agree on method,
 * target, version, every header, and the body's bounds and bytes. Cutover may be stricter.
 */

/** One message (request or response) as parsed. */
export interface Message {
  method: string
  target: string
  status: number
  reason: string
  /** "1.1" */
  version: string
  /** flat [name, value, ...] in arrival order, names as sent, values without surrounding OWS */
  headers: string[]
  keepAlive: boolean
  upgrade: boolean
  /** decoded payload as parsed so far */
  body: Buffer[]
  bodyBytes: number
  trailers: string[]
  /** the body (and trailers) ended */
  complete: boolean
  /** offset in the stream just past this message, -1 while incomplete */
  end: number
}

/**
 * How the stream ended: 'open' = no refusal, the bytes ran out between messages or inside
 * one; 'closed' = a message without keep-alive ended, the rest is never read; 'upgrade' =
 * the rest is a tunnel; 'refused' = a parse error; 'server-refused' = llhttp accepted the
 * head but node:http never let it reach a handler (CONNECT).
 */
export interface End {
  kind: 'open' | 'closed' | 'upgrade' | 'refused' | 'server-refused'
  reason: string
  status: number
  /** the refusal came inside the body of the last message */
  inBody: boolean
}

export interface Stream {
  messages: Message[]
  end: End
}

/**
 * agree: both accepted everything and agree on it. both-refused: llhttp refused, cutover
 * refused at the same message or earlier. stricter: cutover refused what llhttp accepted
 * (allowed, counted). waiting: llhttp refused bytes cutover still waits on (it never
 * forwards them; allowed, counted). server-level: llhttp accepted a head node:http never
 * handled (CONNECT) and the codec accepts it: the engine must refuse it (counted).
 * llhttp-quirk: a difference only an older llhttp has, newer ones agree with cutover
 * (see LLHTTP_QUIRKS in run.ts; counted).
 * LENIENT: cutover accepted what llhttp refused. MISMATCH: both accepted, but differently.
 */
export type Verdict = 'agree' | 'both-refused' | 'stricter' | 'waiting' | 'server-level' | 'llhttp-quirk' | 'LENIENT' | 'MISMATCH'

export const FAILING: ReadonlySet<Verdict> = new Set<Verdict>(['LENIENT', 'MISMATCH'])

export interface Judgement {
  verdict: Verdict
  /** what differed, or why cutover refused */
  detail: string
}

function joined(parts: Buffer[]): Buffer {
  return parts.length === 1 ? parts[0] : Buffer.concat(parts)
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** The first head field on which two messages differ, or null. */
function headDifference(o: Message, c: Message): string | null {
  if (o.method !== c.method) return `method ${JSON.stringify(o.method)} vs ${JSON.stringify(c.method)}`
  if (o.target !== c.target) return `target ${JSON.stringify(o.target)} vs ${JSON.stringify(c.target)}`
  if (o.status !== c.status) return `status ${o.status} vs ${c.status}`
  if (o.reason !== c.reason) return `reason ${JSON.stringify(o.reason)} vs ${JSON.stringify(c.reason)}`
  if (o.version !== c.version) return `version ${o.version} vs ${c.version}`
  if (!sameList(o.headers, c.headers)) return `headers ${JSON.stringify(o.headers)} vs ${JSON.stringify(c.headers)}`
  if (o.upgrade !== c.upgrade) return `upgrade ${o.upgrade} vs ${c.upgrade}`
  if (o.keepAlive !== c.keepAlive) return `keepAlive ${o.keepAlive} vs ${c.keepAlive}`
  return null
}

const refusedBy = (end: End) => `${end.status || '-'} ${end.reason}`

/** Compare llhttp's reading (o) with cutover's (c) of the same bytes. */
export function judge(o: Stream, c: Stream): Judgement {
  const n = Math.max(o.messages.length, c.messages.length)
  for (let i = 0; i < n; i++) {
    const om = o.messages[i]
    const cm = c.messages[i]
    const at = `message ${i}`
    if (om && !cm) {
      // llhttp has a head here, cutover none: cutover refused or is still waiting earlier
      if (c.end.kind === 'refused') {
        const llhttpRefusesHere = o.end.kind === 'refused' && i === o.messages.length - 1 && !om.complete
        return llhttpRefusesHere
          ? { verdict: 'both-refused', detail: `${at}: llhttp in the body, cutover at the head: ${refusedBy(c.end)}` }
          : { verdict: 'stricter', detail: `${at}: ${refusedBy(c.end)}` }
      }
      if (c.end.kind === 'open' && o.end.kind === 'refused' && i === o.messages.length - 1 && !om.complete) {
        return { verdict: 'waiting', detail: `${at}: llhttp refused in the body (${refusedBy(o.end)}), cutover waits for the head` }
      }
      return { verdict: 'MISMATCH', detail: `${at}: llhttp parsed a head (${om.method || om.status} ${om.target}), cutover ended ${c.end.kind} ${c.end.reason}` }
    }
    if (!om && cm) {
      if (o.end.kind === 'server-refused') {
        return c.end.kind === 'refused' ? { verdict: 'both-refused', detail: `${at}: ${o.end.reason}` } : { verdict: 'server-level', detail: `${at}: ${o.end.reason}; the codec accepts it` }
      }
      if (o.end.kind === 'refused') return { verdict: 'LENIENT', detail: `${at}: llhttp refused (${refusedBy(o.end)}), cutover accepted a head` }
      return { verdict: 'MISMATCH', detail: `${at}: cutover parsed a head llhttp did not (llhttp ended ${o.end.kind})` }
    }
    const diff = headDifference(om, cm)
    if (diff?.startsWith('keepAlive') && !cm.keepAlive && headDifference({ ...om, keepAlive: false }, cm) === null) {
      // closing after this message where llhttp would read on: safe, counted as stricter
      return { verdict: 'stricter', detail: `${at}: cutover closes the connection after it, llhttp keeps it alive` }
    }
    if (diff !== null) return { verdict: 'MISMATCH', detail: `${at}: ${diff}` }
    const ob = joined(om.body)
    const cb = joined(cm.body)
    if (om.complete && cm.complete) {
      if (!ob.equals(cb)) return { verdict: 'MISMATCH', detail: `${at}: body ${JSON.stringify(ob.toString('latin1'))} vs ${JSON.stringify(cb.toString('latin1'))}` }
      if (om.end !== cm.end) return { verdict: 'MISMATCH', detail: `${at}: ends at ${om.end} vs ${cm.end}` }
      if (!sameList(om.trailers, cm.trailers)) return { verdict: 'MISMATCH', detail: `${at}: trailers ${JSON.stringify(om.trailers)} vs ${JSON.stringify(cm.trailers)}` }
      continue
    }
    // cutover may not have passed on more payload than llhttp did
    if (cb.length > ob.length || !ob.subarray(0, cb.length).equals(cb)) {
      return { verdict: o.end.kind === 'refused' ? 'LENIENT' : 'MISMATCH', detail: `${at}: partial body ${JSON.stringify(ob.toString('latin1'))} vs ${JSON.stringify(cb.toString('latin1'))}` }
    }
    if (om.complete && !cm.complete) {
      if (c.end.kind === 'refused') return { verdict: 'stricter', detail: `${at} body: ${refusedBy(c.end)}` }
      return { verdict: 'MISMATCH', detail: `${at}: llhttp completed the body at ${om.end}, cutover ended ${c.end.kind}` }
    }
    if (!om.complete && cm.complete) {
      if (o.end.kind === 'refused') return { verdict: 'LENIENT', detail: `${at}: llhttp refused the body (${refusedBy(o.end)}), cutover completed it at ${cm.end}` }
      return { verdict: 'MISMATCH', detail: `${at}: cutover completed the body at ${cm.end}, llhttp did not` }
    }
    // neither completed the body: the ends decide below
    return ends(o.end, c.end, at)
  }
  return ends(o.end, c.end, `after message ${n - 1}`)
}

/** Both streams agree up to here; compare how they ended. */
function ends(o: End, c: End, at: string): Judgement {
  if (o.kind === 'refused' || o.kind === 'server-refused') {
    if (c.kind === 'refused') return { verdict: 'both-refused', detail: `${at}: llhttp ${refusedBy(o)}; cutover ${refusedBy(c)}` }
    if (o.kind === 'server-refused') return { verdict: 'server-level', detail: `${at}: ${o.reason}` }
    if (c.kind === 'open') return { verdict: 'waiting', detail: `${at}: llhttp refused (${refusedBy(o)}), cutover waits for more bytes` }
    return { verdict: 'LENIENT', detail: `${at}: llhttp refused (${refusedBy(o)}), cutover ended ${c.kind}` }
  }
  if (c.kind === 'refused') return { verdict: 'stricter', detail: `${at}: ${refusedBy(c)}` }
  if (o.kind !== c.kind) return { verdict: 'MISMATCH', detail: `${at}: llhttp ended ${o.kind}, cutover ${c.kind}` }
  return { verdict: 'agree', detail: '' }
}
