/**
 * The one place a data plane is wired to what it reports to: the metrics of its process
 * (request counts, upstream errors, shed and refused requests) and the other outcome sinks
 * (the control plane's health and gates in one process, the IPC batcher in a worker).
 */

import type { Config } from './config/types.js'
import { DataPlane, type DataPlaneOptions } from './data-plane.js'
import type { Metrics } from './metrics/metrics.js'
import { fanOut } from './outcome/fan-out.js'
import type { OutcomeSink } from './outcome/outcome-sink.js'

/** Build a data plane reporting to metrics and sinks; it listens when told to. */
export function createDataPlane(config: Config, metrics: Metrics, sinks: readonly OutcomeSink[], options: Omit<DataPlaneOptions, 'sink' | 'onShed' | 'onRefused'>): DataPlane {
  return new DataPlane(config, {
    ...options,
    sink: fanOut([metrics, ...sinks]),
    onShed: () => metrics.shed(),
    onRefused: (reason) => metrics.refused(reason),
  })
}
