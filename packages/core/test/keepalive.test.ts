import { describe, expect, it } from 'vitest'
import { RawClient, sleep } from './helpers/clients.js'
import { startBroker } from './helpers/start-broker.js'

// What these tests check is real time passing: a client that pings at an interval below its keepalive stays
// connected, so the pings are paced by the clock (the broker has no injectable clock).

describe('keepalive', () => {
  it('answers PINGREQ with PINGRESP [MQTT-3.12.4-1]', async () => {
    const b = await startBroker()
    const { raw } = await RawClient.connect(b.port)
    raw.send({ cmd: 'pingreq' })
    await raw.next('pingresp')
    raw.send({ cmd: 'pingreq' })
    await raw.next('pingresp')
  })

  it('closes a silent client after one and a half keepalive periods, not before one [MQTT-3.1.2-24]', async () => {
    const b = await startBroker()
    const { raw } = await RawClient.connect(b.port, { keepalive: 1 })
    expect(await raw.closesWithin(900)).toBe(false)
    expect(await raw.closesWithin(2600)).toBe(true)
  })

  it('keeps a client that sends PINGREQ within the keepalive', async () => {
    const b = await startBroker()
    const { raw } = await RawClient.connect(b.port, { keepalive: 1 })
    for (let i = 0; i < 5; i++) {
      await sleep(600)
      raw.send({ cmd: 'pingreq' })
      await raw.next('pingresp')
    }
    expect(raw.isClosed).toBe(false)
  })

  it('counts any control packet as activity, not only PINGREQ', async () => {
    const b = await startBroker()
    const { raw } = await RawClient.connect(b.port, { keepalive: 1 })
    for (let i = 0; i < 5; i++) {
      await sleep(600)
      raw.send({ cmd: 'publish', topic: 'ka/t', payload: Buffer.from(`${i}`), qos: 1, messageId: i + 1, dup: false, retain: false })
      await raw.next('puback')
    }
    expect(raw.isClosed).toBe(false)
  })

  it('never times out a client with keepalive 0', async () => {
    const b = await startBroker()
    const { raw } = await RawClient.connect(b.port, { keepalive: 0 })
    expect(await raw.closesWithin(2500)).toBe(false)
  })
})
