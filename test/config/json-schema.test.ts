/**
 * The config file's JSON Schema (issue 14): generated from the loader's rules, published
 * as config/cutover.schema.json, and run against the same configs as the loader: what the
 * loader accepts the schema accepts, and each single mistake below is refused by both.
 */

import { readFileSync } from 'node:fs'
import { Ajv2020 } from 'ajv/dist/2020.js'
import t from 'tap'
import { parse } from 'yaml'
import { configSchemaText, generateConfigSchema } from '../../src/config/json-schema.js'
import { parseConfig } from '../../src/config/load.js'

const PUBLISHED = new URL('../../config/cutover.schema.json', import.meta.url)
const ENV = { CUTOVER_TOKEN: 'example-token-0123456789' }

const MINIMAL = `control: { token: schema-test-token }
pools:
  x: { nodes: [http://10.0.0.11:8000] }
  y: { nodes: [{ url: http://10.0.0.21:8000, name: kong-y1, weight: 2 }] }
`

function loaderAccepts(text: string): boolean | string {
  try {
    parseConfig(text, { source: 'test', env: ENV })
    return true
  } catch (err) {
    return (err as Error).message
  }
}

t.test('every key has a schema, and the published file is the generated one', async (t) => {
  const { unknown } = generateConfigSchema()
  t.same(unknown, [], 'keys whose rule says nothing: annotate the rule (src/config/rules.ts) or add it to src/config/json-schema.ts')
  t.equal(readFileSync(PUBLISHED, 'utf8'), configSchemaText(), 'config/cutover.schema.json is stale: npm run config-schema')
})

t.test('the schema and the loader agree on good and bad configs', async (t) => {
  const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true })
  const validate = ajv.compile(JSON.parse(readFileSync(PUBLISHED, 'utf8')))
  const schemaAccepts = (text: string) => (validate(parse(text)) ? true : JSON.stringify(validate.errors?.slice(0, 2)))

  const good: Record<string, string> = {
    'config/cutover.yaml': readFileSync(new URL('../../config/cutover.yaml', import.meta.url), 'utf8'),
    minimal: MINIMAL,
    everything: `${MINIMAL}proxy: { listen: 0.0.0.0:8080, workers: auto, connect_timeout: 250ms, max_header_size: 32kb, max_body_size: 10mib, retries: 2 }
split: { y: 12.5, sticky: { cookie: session }, override_header: x-cutover-pool }
health: { active: { path: /status/ready, port: 8100, interval: 2s, timeout: 1s }, passive: { max_failures: 3, eject_for: 1m } }
gates: { window: 60s, min_requests: 50, max_error_rate: 0.02, max_error_rate_over_x: 0.01, max_p99_ms: 800, risk: 0.1, action: pause }
rollout: { steps: [{ y: 10, hold: 5m }, { y: 100 }] }
log: { level: warn, access: true, access_sample: 0.5 }
events: { webhook: https://hooks.example.com/x, audit: { max_size: 1mb, keep: 3 } }
shadow: { share: 5, methods: [GET, HEAD], ignore_fields: [id], redact_headers: [authorization] }
analysis: { prometheus: { url: http://prometheus:9090 }, queries: [{ name: kong_5xx, query: up, max: 1 }] }
`,
  }
  for (const [name, text] of Object.entries(good)) {
    t.equal(loaderAccepts(text), true, `${name}: the loader accepts it`)
    t.equal(schemaAccepts(text), true, `${name}: the schema accepts it`)
  }

  const bad: Record<string, string> = {
    'an unknown key': `${MINIMAL}proxy: { lisen: 0.0.0.0:8080 }\n`,
    'workers 0': `${MINIMAL}proxy: { workers: 0 }\n`,
    'a duration without a unit': `${MINIMAL}proxy: { connect_timeout: 5 }\n`,
    'a listen without a port': `${MINIMAL}proxy: { listen: localhost }\n`,
    'split.y above 100': `${MINIMAL}split: { y: 150 }\n`,
    'split.y with three decimals': `${MINIMAL}split: { y: 12.345 }\n`,
    'a threshold of 0': `${MINIMAL}health: { active: { healthy_threshold: 0 } }\n`,
    'an unknown gate action': `${MINIMAL}gates: { action: stop }\n`,
    'risk 0.5': `${MINIMAL}gates: { risk: 0.5 }\n`,
    'a node weight of 0': MINIMAL.replace('weight: 2', 'weight: 0'),
    'a node that is not a URL': MINIMAL.replace('http://10.0.0.11:8000', 'ftp://10.0.0.11'),
    'no pool y': MINIMAL.replace(/ {2}y: .*\n/, ''),
    'no token': MINIMAL.replace('control: { token: schema-test-token }', 'control: { listen: 127.0.0.1:9901 }'),
    'a log level': `${MINIMAL}log: { level: loud }\n`,
    'audit keep above 100': `${MINIMAL}events: { audit: { keep: 101 } }\n`,
    'two sticky rules': `${MINIMAL}split: { sticky: { header: a, cookie: b } }\n`,
    'a rollout without steps': `${MINIMAL}rollout: { steps: [] }\n`,
    'a webhook that is not http': `${MINIMAL}events: { webhook: ftp://x }\n`,
    'a lower-case shadow method': `${MINIMAL}shadow: { share: 5, methods: [get] }\n`,
    'a Prometheus gate without max or min': `${MINIMAL}analysis: { prometheus: { url: http://p:9090 }, queries: [{ name: a, query: up }] }\n`,
  }
  for (const [name, text] of Object.entries(bad)) {
    t.not(loaderAccepts(text), true, `${name}: the loader refuses it`)
    t.not(schemaAccepts(text), true, `${name}: the schema refuses it`)
  }
})
