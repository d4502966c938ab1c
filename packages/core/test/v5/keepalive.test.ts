import { describe, expect, it } from 'vitest'
import { sleep } from '../helpers/clients.js'
import { rawConnectV5 } from '../helpers/v5.js'
import { startBroker } from '../helpers/start-broker.js'

// What these tests check is real time passing: a client that pings at an interval below its keepalive stays
// connected, so the pings are paced by the clock (the broker has no injectable clock).

describe('MQTT 5 Server Keep Alive', () => {
  it('enforces the capped keepalive at 1.5 x Server Keep Alive, not the client value [MQTT-3.2.2-21] [MQTT-3.1.2-22]', async () => {
    const b = await startBroker({ maxKeepalive: 1 })
    const { raw, connack } = await rawConnectV5(b.port, { keepalive: 60 })
    expect(connack.properties?.serverKeepAlive).toBe(1)
    const started = Date.now()
    expect((await raw.next('disconnect', 4000)).reasonCode).toBe(0x8d)
    const elapsed = Date.now() - started
    expect(elapsed).toBeGreaterThanOrEqual(1000)
    expect(elapsed).toBeLessThan(3000)
  })

  it('keeps a client that pings within the Server Keep Alive connected', async () => {
    const b = await startBroker({ maxKeepalive: 1 })
    const { raw } = await rawConnectV5(b.port, { keepalive: 60 })
    for (let i = 0; i < 5; i++) {
      await sleep(500)
      raw.send({ cmd: 'pingreq' })
      await raw.next('pingresp')
    }
    expect(raw.isClosed).toBe(false)
  })

  it('replaces a keepalive of 0 (none) with the Server Keep Alive when the broker caps it (§3.2.2.3.14)', async () => {
    const b = await startBroker({ maxKeepalive: 1 })
    const { raw, connack } = await rawConnectV5(b.port, { keepalive: 0 })
    expect(connack.properties?.serverKeepAlive).toBe(1)
    expect((await raw.next('disconnect', 4000)).reasonCode).toBe(0x8d)
  })
})
