import { Duplex } from 'node:stream'
import { MqttClient } from 'mqtt'
import { createBroker } from '@wren/core'

/** Two streams: what is written to one is read from the other; ending or destroying one ends the other. */
function duplexPair() {
  const sides = []
  const side = (other) =>
    new Duplex({
      read() {},
      write(chunk, _encoding, callback) {
        sides[other].push(chunk)
        callback()
      },
      final(callback) {
        sides[other].push(null)
        callback()
      },
      destroy(error, callback) {
        sides[other].push(null)
        callback(error)
      },
    })
  sides.push(side(1), side(0))
  return sides
}

const broker = createBroker()
await broker.ready()

const [brokerSide, clientSide] = duplexPair()
broker.handle(brokerSide, { transport: 'memory' })
const client = new MqttClient(() => clientSide, { protocolVersion: 5, clientId: 'in-process', reconnectPeriod: 0 })

client.on('connect', async () => {
  await client.subscribeAsync('greetings/#')
  await client.publishAsync('greetings/hello', 'over an in-memory stream')
})
client.on('message', async (topic, payload) => {
  console.log(topic, payload.toString())
  await client.endAsync()
  await broker.close()
})
