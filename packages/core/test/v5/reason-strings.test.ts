import { describe, expect, it } from 'vitest'
import { startBroker } from '../helpers/start-broker.js'
import { rawConnectV5, rawHandshakeV5 } from '../helpers/v5.js'

describe('Reason Strings on CONNACK and DISCONNECT (§3.2.2.3.9, §3.14.2.2.3)', () => {
  it('names why a connection was refused in CONNACK', async () => {
    const b = await startBroker({ hooks: { authenticate: () => ({ ok: false as const, reasonCode: 0x86 }) } })
    const { connack } = await rawHandshakeV5(b.port, { clientId: 'refused' })
    expect(connack.reasonCode).toBe(0x86)
    expect(connack.properties?.reasonString).toBe('refused by authenticate')
  })

  it('names the violation in the DISCONNECT it sends, even with Request Problem Information 0 [MQTT-3.1.2-29]', async () => {
    const b = await startBroker()
    const { raw } = await rawConnectV5(b.port, { properties: { requestProblemInformation: false } })
    raw.send({ cmd: 'publish', topic: 'a/+', payload: Buffer.from('x'), qos: 0, dup: false, retain: false })
    const disconnect = await raw.next('disconnect')
    expect(disconnect.reasonCode).toBe(0x90)
    expect(disconnect.properties?.reasonString).toMatch(/invalid topic name: wildcard-in-name/)
  })
})

describe('User Properties of CONNECT', () => {
  it('reach preConnect, so a host can admit by what the client declares', async () => {
    const b = await startBroker({ hooks: { preConnect: (_client, request) => request.userProperties?.model === 'sensor-v2' } })
    const ok = await rawHandshakeV5(b.port, { clientId: 'declared', properties: { userProperties: { model: 'sensor-v2' } } })
    expect(ok.connack.reasonCode).toBe(0)
    const refused = await rawHandshakeV5(b.port, { clientId: 'undeclared' })
    expect(refused.connack.reasonCode).toBe(0x87)
  })
})
