// Runs benchmarks/mqtt-sn.js end to end on a tiny bounded load (a real broker process with the MQTT-SN
// gateway, real UDP and TCP clients) and checks it reports every row. No timing assertions.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { assertBuilt } from '../../packages/core/test/helpers/built.js'

const SCRIPT = fileURLToPath(new URL('../mqtt-sn.js', import.meta.url))

describe('MQTT-SN benchmark', () => {
  it('measures QoS 0 and 1 over MQTT-SN and TCP on a tiny load', async () => {
    assertBuilt('gateway-mqttsn')
    const { stdout } = await promisify(execFile)(process.execPath, [SCRIPT, '--clients', '3', '--messages', '10', '--window', '10'], { timeout: 60_000 })
    const rows = stdout.split('\n').filter((line) => /^\| (mqtt-sn|tcp) \|/.test(line))
    expect(rows.map((row) => row.split('|').slice(1, 3).map((cell) => cell.trim()))).toEqual([
      ['mqtt-sn', '0'],
      ['tcp', '0'],
      ['mqtt-sn', '1'],
      ['tcp', '1'],
    ])
    for (const row of rows) expect(row).toMatch(/ µs \|$/)
  })
})
