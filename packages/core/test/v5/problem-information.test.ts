import { describe, expect, it } from 'vitest'
import { rawConnectV5 } from '../helpers/v5.js'
import { startBroker } from '../helpers/start-broker.js'

const denyingBroker = () =>
  startBroker({
    hooks: {
      authorizePublish: () => ({ ok: false, reasonCode: 0x87, reason: 'publishing here is not allowed' }),
      authorizeSubscribe: (_client, subscription) => (subscription.filter.startsWith('secret') ? { ok: false, reasonCode: 0x87, reason: 'secret topics are closed' } : true),
    },
  })

async function failingAcks(port: number, requestProblemInformation: boolean | undefined) {
  const { raw } = await rawConnectV5(port, requestProblemInformation === undefined ? {} : { properties: { requestProblemInformation } })
  raw.send({ cmd: 'publish', topic: 'pi/t', payload: Buffer.from('x'), qos: 1, messageId: 1, retain: false, dup: false })
  const puback = await raw.next('puback')
  raw.send({ cmd: 'publish', topic: 'pi/t', payload: Buffer.from('x'), qos: 2, messageId: 2, retain: false, dup: false })
  const pubrec = await raw.next('pubrec')
  raw.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'bad/#/filter', qos: 1 }, { topic: 'secret/x', qos: 1 }] })
  const suback = await raw.next('suback')
  raw.send({ cmd: 'unsubscribe', messageId: 4, unsubscriptions: ['never/subscribed'] })
  const unsuback = await raw.next('unsuback')
  return { raw, puback, pubrec, suback, unsuback }
}

describe('MQTT 5 Request Problem Information', () => {
  it('sends no Reason String or User Properties on PUBACK, PUBREC, SUBACK or UNSUBACK when the client set it to 0 [MQTT-3.1.2-29]', async () => {
    const b = await denyingBroker()
    const { puback, pubrec, suback, unsuback } = await failingAcks(b.port, false)
    expect(puback.reasonCode).toBe(0x87)
    expect(pubrec.reasonCode).toBe(0x87)
    expect(suback.granted).toEqual([0x8f, 0x87])
    expect(unsuback.granted).toEqual([0x11])
    for (const packet of [puback, pubrec, suback, unsuback]) {
      expect(packet.properties?.reasonString, `${packet.cmd} reason string`).toBeUndefined()
      expect(packet.properties?.userProperties, `${packet.cmd} user properties`).toBeUndefined()
    }
  })

  it('sends the hook reason as Reason String when problem information is requested (the default) (§3.4.2.2.2)', async () => {
    const b = await denyingBroker()
    const { puback, suback } = await failingAcks(b.port, undefined)
    expect(puback.properties?.reasonString).toBe('publishing here is not allowed')
    expect(suback.properties?.reasonString).toContain('secret topics are closed')
  })
})
