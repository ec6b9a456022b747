/** One outcome to several sinks, calling for each method only the sinks that implement it. */

import type { OutcomeReport, OutcomeSink } from './outcome-sink.js'

type Method = keyof OutcomeSink

function noop(): void {}

/** The sinks' implementations of one method, bound to their sink. */
function bound<M extends Method>(sinks: readonly OutcomeSink[], method: M): Array<NonNullable<OutcomeSink[M]>> {
  const fns: Array<NonNullable<OutcomeSink[M]>> = []
  for (const sink of sinks) {
    const fn = sink[method]
    if (fn) fns.push((fn as (...args: unknown[]) => void).bind(sink) as NonNullable<OutcomeSink[M]>)
  }
  return fns
}

/**
 * Fans one outcome out to sinks. Built once at wiring time: per method, a no-op when no
 * sink implements it, the sink's own method when one does, a loop over those that do.
 */
export function fanOut(sinks: readonly OutcomeSink[]): OutcomeReport {
  const started = bound(sinks, 'attemptStarted')
  const failed = bound(sinks, 'attemptFailed')
  const answered = bound(sinks, 'answered')
  const ended = bound(sinks, 'attemptEnded')
  const finished = bound(sinks, 'finished')
  const explained = bound(sinks, 'failureExplained')
  return {
    attemptStarted:
      started.length === 0
        ? noop
        : started.length === 1
          ? started[0]
          : (node) => {
              for (let i = 0; i < started.length; i++) started[i](node)
            },
    attemptFailed:
      failed.length === 0
        ? noop
        : failed.length === 1
          ? failed[0]
          : (node, kind, listener) => {
              for (let i = 0; i < failed.length; i++) failed[i](node, kind, listener)
            },
    answered:
      answered.length === 0
        ? noop
        : answered.length === 1
          ? answered[0]
          : (node, status, ms, grpcFailed, listener) => {
              for (let i = 0; i < answered.length; i++) answered[i](node, status, ms, grpcFailed, listener)
            },
    attemptEnded:
      ended.length === 0
        ? noop
        : ended.length === 1
          ? ended[0]
          : (node) => {
              for (let i = 0; i < ended.length; i++) ended[i](node)
            },
    finished:
      finished.length === 0
        ? noop
        : finished.length === 1
          ? finished[0]
          : (pool, status, ms, protocol, grpc) => {
              for (let i = 0; i < finished.length; i++) finished[i](pool, status, ms, protocol, grpc)
            },
    // rare (a few per node and minute at most): one loop for any number of sinks
    failureExplained: (node, kind, why) => {
      for (let i = 0; i < explained.length; i++) explained[i](node, kind, why)
    },
  }
}
