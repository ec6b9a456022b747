/** What an upstream attempt's failure means for the client (SPEC 4.4, 4.6). */

import type { FailureKind } from '../outcome/outcome-sink.js'

/** The status cutover answers with when the last attempt failed with kind. */
export function failureStatus(kind: FailureKind): number {
  return kind === 'timeout' ? 504 : 502
}
