// The idle-connection heap probe end to end on a few hundred real clients: the broker's heap grows by one
// Connection per idle client, and by nothing an idle client does not use (an inbound Receive Maximum quota is
// made by the first QoS 1/2 PUBLISH). Heap bytes per connection do not depend on the machine's speed or load.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt } from '../../packages/core/test/helpers/built.js'

const script = fileURLToPath(new URL('../idle-heap.js', import.meta.url))

/** Objects per connection by `type:constructor`, from the probe's table. */
async function heapPerConnection(): Promise<Map<string, number>> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', script, '--clients', '300', '--heap'], { timeout: 60_000 })
  const rows = new Map<string, number>()
  for (const match of stdout.matchAll(/^\s+-?\d+\s+(-?[\d.]+)\s+(\S.*)$/gm)) rows.set(match[2] as string, Number(match[1]))
  return rows
}

describe('idle-connection heap probe', () => {
  beforeAll(() => assertBuilt('core'))

  it('finds one Connection per idle client and nothing an idle client does not use', { timeout: 90_000 }, async () => {
    const rows = await heapPerConnection()
    expect(rows.get('object:Connection')).toBeCloseTo(1, 1)
    expect(rows.get('object:Session')).toBeCloseTo(1, 1)
    expect(rows.has('object:InboundQuota')).toBe(false)
  })
})
