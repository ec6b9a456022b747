/**
 * Shadowing switched on, reconfigured and off with the config, for a data plane in this
 * process: a Shadower while `shadow` is configured, none (the engine's null check) when not.
 * It reports to the results themselves (one process) or to a worker's batch for the primary.
 */

import type { Logger } from 'pino'
import type { Clock, Random } from '../clock.js'
import type { Config } from '../config/types.js'
import type { DataPlane } from '../data-plane.js'
import type { ShadowRecorder } from './results.js'
import { Shadower } from './shadower.js'

export interface AttachedShadow {
  reload(config: Config): void
  close(): Promise<void>
}

/** Copy x's requests to y on data as config.shadow says, reporting to results. */
export function attachShadow(config: Config, data: DataPlane, results: ShadowRecorder, deps: { clock: Clock; random: Random; logger: Logger }): AttachedShadow {
  let shadower: Shadower | null = null
  const apply = (c: Config): void => {
    if (c.shadow === undefined) {
      if (shadower !== null) void shadower.close()
      shadower = null
    } else if (shadower === null) {
      shadower = new Shadower({ config: c.shadow, results, router: data.router, https: Boolean(c.proxy.tls), ...deps })
    } else {
      shadower.configure(c.shadow)
    }
    data.shadow(shadower)
  }
  apply(config)
  return {
    reload: apply,
    async close() {
      data.shadow(null)
      await shadower?.close()
    },
  }
}
