// One cutover in a process of its own (dist/), for split.test.ts: the config's YAML comes
// base64 in argv[2]; prints its proxy port as a JSON line.
import pino from 'pino'
import { startCutover } from '../../../dist/app.js'
import { parseConfig } from '../../../dist/config/load.js'
const yaml = Buffer.from(process.argv[2], 'base64').toString()
const c = await startCutover(parseConfig(yaml, { source: 'test' }), { logger: pino({ level: 'silent' }) })
process.stdout.write(`${JSON.stringify({ port: c.proxyAddress.port })}\n`)
process.on('SIGTERM', () => c.close().then(() => process.exit(0)))
