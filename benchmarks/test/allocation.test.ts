// The allocation probe end to end on a small bounded load: a real broker process from @wren/core's built dist, a
// real publisher and subscriber. Bytes allocated per message do not depend on the machine's speed or load, so the
// bound is one a user of the latency path would notice: the acknowledgement and MQTT 5 parse paths through
// mqtt-packet allocated 3 to 7 KB per message, the reader's own about 2 KB.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt } from '../../packages/core/test/helpers/built.js'

const script = fileURLToPath(new URL('../allocation.js', import.meta.url))

async function bytesPerMessage(protocolVersion: 4 | 5): Promise<{ heapBytesPerMessage: number; messages: number }> {
  const { stdout } = await promisify(execFile)(process.execPath, [script, '--messages', '2000', '--protocol', String(protocolVersion)], { timeout: 60_000 })
  return JSON.parse(stdout)
}

describe('allocation probe', () => {
  beforeAll(() => assertBuilt('core'))

  for (const protocolVersion of [4, 5] as const) {
    it(`counts the heap bytes a QoS 1 message costs the broker, protocol level ${protocolVersion}`, { timeout: 90_000 }, async () => {
      const result = await bytesPerMessage(protocolVersion)
      expect(result.messages).toBe(2000)
      expect(result.heapBytesPerMessage).toBeGreaterThan(0)
      expect(result.heapBytesPerMessage).toBeLessThan(3500)
    })
  }
})
