import t from 'tap'
import { parseReplicaRecord } from '../../src/fleet/fleet.js'

const good = {
  v: 1,
  id: 'r1',
  control: '127.0.0.1:9901',
  started_at: '2026-11-29T08:00:00.000Z',
  totals: { x: { requests: 10, errors: 0 }, y: { requests: 5, errors: 1 } },
  buckets: [{ t: 1795939200, x: { r: 10, e: 0, h: [[100, 10]] }, y: { r: 5, e: 1, h: [[120, 4]] } }],
  nodes: [{ pool: 'x', name: 'kong-x1', usable: true }],
}

t.test('a valid record is taken as it is', async (t) => {
  t.same(parseReplicaRecord(JSON.parse(JSON.stringify(good))), good)
  const { nodes: _, ...old } = good
  t.same(parseReplicaRecord(old), { ...old, nodes: [] }, 'nodes are optional')
})

t.test('garbage is refused with what is wrong, never thrown', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [null, /not a JSON object/],
    [[], /not a JSON object/],
    [{ ...good, v: 2 }, /^v:/],
    [{ ...good, id: '' }, /^id:/],
    [{ ...good, id: 'x'.repeat(200) }, /^id:/],
    [{ ...good, control: 5 }, /^control:/],
    [{ ...good, started_at: 'yesterday' }, /^started_at:/],
    [{ ...good, totals: { x: { requests: -1, errors: 0 }, y: { requests: 0, errors: 0 } } }, /^totals:/],
    [{ ...good, totals: { x: { requests: 1.5, errors: 0 }, y: { requests: 0, errors: 0 } } }, /^totals:/],
    [{ ...good, buckets: 'many' }, /^buckets:/],
    [{ ...good, buckets: [{ t: 1, x: { r: 1, e: 5, h: [] }, y: { r: 0, e: 0, h: [] } }] }, /e <= r/],
    [{ ...good, buckets: [{ t: 1, x: { r: 1, e: 0, h: [[1e9, 1]] }, y: { r: 0, e: 0, h: [] } }] }, /bucket, count/],
    [{ ...good, nodes: [{ pool: 'z', name: 'a', usable: true }] }, /^nodes:/],
    [{ ...good, nodes: {} }, /^nodes:/],
    [{ ...good, at: -1 }, /^at:/],
    [{ ...good, at: 'now' }, /^at:/],
  ]
  for (const [value, reason] of cases) {
    const parsed = parseReplicaRecord(value)
    t.type(parsed, 'string', JSON.stringify(value).slice(0, 80))
    t.match(parsed, reason)
  }
})
