// Runs benchmarks/lwm2m.js end to end on a tiny bounded load (a real broker process with the LwM2M gateway, raw
// CoAP devices on UDP, an MQTT application on TCP) and checks it reports both rows. No timing assertions.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const SCRIPT = fileURLToPath(new URL('../lwm2m.js', import.meta.url))

describe('LwM2M benchmark', () => {
  it('measures registrations and read commands on a tiny load', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [SCRIPT, '--devices', '5', '--commands', '3', '--concurrency', '2', '--window', '4'], { timeout: 60_000 })
    const rows = stdout.split('\n').filter((line) => /^\| (registrations|read commands) \|/.test(line))
    expect(rows.map((row) => row.split('|').slice(1, 3).map((cell) => cell.trim()))).toEqual([
      ['registrations', '5'],
      ['read commands', '15'],
    ])
    for (const row of rows) expect(row).toMatch(/ µs \|$/)
  })
})
