import { once } from 'node:events'
import { describe, expect, it } from 'vitest'
import { duplexPair } from '../../src/index.js'

describe('duplexPair', () => {
  it('carries bytes both ways and ends the other side', async () => {
    const [a, b] = duplexPair()
    a.write('ping')
    const [chunk] = (await once(b, 'data')) as [Buffer]
    expect(chunk.toString()).toBe('ping')
    a.end()
    await once(b, 'end')
  })

  it('holds writes back while the reader does not read, and releases them when it does', async () => {
    const [writer, reader] = duplexPair()
    reader.pause()
    const chunk = Buffer.alloc(64 * 1024)
    let accepted = 0
    while (writer.write(chunk) && accepted < 1000) accepted++
    // The reader's buffer filled: the writer sees backpressure instead of buffering without bound.
    expect(accepted).toBeLessThan(1000)
    expect(writer.writableLength).toBeGreaterThan(0)
    const drained = once(writer, 'drain')
    reader.resume()
    await drained
    expect(writer.writableLength).toBe(0)
  })
})
