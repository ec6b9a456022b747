/**
 * cutover's HTTP/1.1 codec: pure functions over Buffers, no I/O, no timers. The contract
 * is types.ts (what a parsed head is) and head.ts (what is refused, and why); the engine
 * (src/forwarding) and the differential fuzz against llhttp (test/http1/fuzz) both build
 * on these exports.
 */

export type { FieldLines, Framing, ParseResult, RequestHead, ResponseHead } from './types.js'
export { fieldNameIs, fieldValue, headValue, parseRequestHead, parseResponseHead, REFUSAL } from './head.js'
export { ChunkedDecoder, CHUNK_ERROR, type ChunkResult } from './chunked.js'
