/** The sticky bucket of a key: the same in every process and on every restart. */

const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193

/** FNV-1a (32 bit) over the UTF-16 code units of key, folded into a bucket 0..9999. */
export function stickyBucket(key: string): number {
  return stickyBucketOf(key, 0, key.length)
}

/** stickyBucket of key.slice(start, end), without making the slice. */
export function stickyBucketOf(key: string, start: number, end: number): number {
  let h = FNV_OFFSET
  for (let i = start; i < end; i++) {
    const c = key.charCodeAt(i)
    // both bytes of the code unit, so non-Latin keys spread as well as ASCII ones
    h = Math.imul(h ^ (c & 0xff), FNV_PRIME)
    if (c > 0xff) h = Math.imul(h ^ (c >>> 8), FNV_PRIME)
  }
  return (h >>> 0) % 10000
}
