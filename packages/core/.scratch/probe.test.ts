import { it } from 'vitest'
import { connectClient } from '../test/helpers/clients.js'
import { startBroker } from '../test/helpers/start-broker.js'

it('client publishes to $SYS', async () => {
  const b = await startBroker({ sysInterval: 0 })
  const pub = await connectClient(b.url)
  await pub.client.publishAsync('$SYS/broker/version', 'spoofed', { qos: 1, retain: true })
  const sub = await connectClient(b.url)
  await sub.client.subscribeAsync('$SYS/#', { qos: 1 })
  const m = await sub.inbox.next(() => true, 1000).catch(() => null)
  console.log('SYS spoof:', m?.topic, m?.payload.toString(), m?.retain)
})
