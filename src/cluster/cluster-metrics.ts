/**
 * /metrics with workers: the primary's own registry (split, health, gates, rollbacks)
 * plus every worker's (requests, durations, upstream errors, in flight), summed by
 * prom-client's aggregator. A worker that does not answer in time is left out of a scrape.
 */

import { AggregatorRegistry } from 'prom-client'
import type { Metrics } from '../metrics/metrics.js'
import type { WorkerPool } from './worker-pool.js'

export const METRICS_TIMEOUT_MS = 2_000

/** The exposition of every process together. */
export async function clusterMetrics(own: Metrics, workers: Pick<WorkerPool, 'collectMetrics'>): Promise<{ contentType: string; body: string }> {
  const parts: unknown[][] = [await own.registry.getMetricsAsJSON(), ...(await workers.collectMetrics(METRICS_TIMEOUT_MS))]
  const registry = AggregatorRegistry.aggregate(parts as Parameters<typeof AggregatorRegistry.aggregate>[0])
  return { contentType: registry.contentType, body: await registry.metrics() }
}
