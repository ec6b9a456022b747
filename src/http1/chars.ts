/** Byte classes of RFC 9110/9112, as 256-entry tables: one load per byte on the hot path. */

/** tchar: the characters of a method or a field name. */
export const TOKEN = new Uint8Array(256)
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1

/** field-value characters: HTAB, SP, VCHAR and obs-text; no control character, no DEL. */
export const FIELD_VALUE = new Uint8Array(256)
FIELD_VALUE[0x09] = 1
for (let c = 0x20; c <= 0x7e; c++) FIELD_VALUE[c] = 1
for (let c = 0x80; c <= 0xff; c++) FIELD_VALUE[c] = 1

/** request-target characters: visible ASCII only (llhttp refuses obs-text in a target too). */
export const TARGET = new Uint8Array(256)
for (let c = 0x21; c <= 0x7e; c++) TARGET[c] = 1

/** the authority of an absolute-form target, as llhttp accepts it (no " # < > \ ^ ` { | }) */
export const AUTHORITY = new Uint8Array(256)
for (const c of "!$%&'()*+,-.0123456789:;=@[]_~") AUTHORITY[c.charCodeAt(0)] = 1
for (let c = 0x41; c <= 0x5a; c++) AUTHORITY[c] = 1
for (let c = 0x61; c <= 0x7a; c++) AUTHORITY[c] = 1

/** ASCII letters */
export const ALPHA = new Uint8Array(256)
for (let c = 0x41; c <= 0x5a; c++) ALPHA[c] = 1
for (let c = 0x61; c <= 0x7a; c++) ALPHA[c] = 1

/** hex digit values, -1 for anything else */
export const HEX = new Int8Array(256).fill(-1)
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c
for (let c = 0; c < 6; c++) {
  HEX[0x41 + c] = 10 + c
  HEX[0x61 + c] = 10 + c
}

export const CR = 0x0d
export const LF = 0x0a
export const SP = 0x20
export const HTAB = 0x09
export const COLON = 0x3a
export const COMMA = 0x2c
export const EQUALS = 0x3d

/** The latin1 string of buf[start, end): one byte, one char, no UTF-8 decoding. */
export function latin1(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as { latin1Slice(start: number, end: number): string }).latin1Slice(start, end)
}

/** buf[start, start + lower.length) equals the lower-case ASCII constant lower, ignoring case. */
export function bytesEqualLower(buf: Buffer, start: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    if ((buf[start + i] | 0x20) !== lower.charCodeAt(i)) return false
  }
  return true
}

/** The string a equals the lower-case constant b, ignoring ASCII case (a.length === b.length assumed). */
export function equalLower(a: string, b: string): boolean {
  for (let i = 0; i < b.length; i++) {
    if ((a.charCodeAt(i) | 0x20) !== b.charCodeAt(i)) return false
  }
  return true
}
