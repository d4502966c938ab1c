import { describe, expect, it, onTestFinished } from 'vitest'
import { connectClient, uniqueId } from '../../core/test/helpers/clients.js'
import { startBroker } from '../../core/test/helpers/start-broker.js'
import { startMosquitto } from './mosquitto-server.js'

const text = (m: { topic: string; payload: Buffer }) => `${m.topic}=${m.payload.toString()}`

describe('Mosquitto bridging into Wren (Wren as the remote broker)', () => {
  it.each(['mqttv311', 'mqttv50'])('%s: topics flow both ways, once each; a bridge-bit link may publish its state under $SYS', async (version) => {
    const wren = await startBroker()
    const clientId = uniqueId('mosquitto-bridge')
    const bridged = new Promise<boolean>((resolve) =>
      wren.broker.on('clientConnected', (client) => {
        if (client.id === clientId) resolve(client.bridge)
      }),
    )
    const watcher = await connectClient(wren.url)
    await watcher.client.subscribeAsync(`$SYS/broker/connection/${clientId}/state`, { qos: 1 })
    const mosquitto = await startMosquitto({
      config: [
        'connection to-wren',
        `address 127.0.0.1:${wren.port}`,
        `remote_clientid ${clientId}`,
        `bridge_protocol_version ${version}`,
        'try_private true',
        'topic site/# out 1',
        'topic cmd/# in 1',
        'topic shared/# both 1',
        'restart_timeout 1',
        // Without the bridge bit (MQTT 5), a will under $SYS is refused by Wren: the state goes elsewhere
        ...(version === 'mqttv50' ? [`notification_topic bridges/${clientId}/state`] : []),
      ],
    })
    onTestFinished(() => mosquitto.stop())
    // 3.1.1 with try_private: protocol level 0x84. Mosquitto does not set the bit on MQTT 5 links (it asks for
    // No Local and Retain As Published instead), so Wren cannot tell that one from a plain client.
    const bridgeBit = version === 'mqttv311'
    expect(await bridged).toBe(bridgeBit)
    if (bridgeBit) expect(text(await watcher.inbox.next())).toBe(`$SYS/broker/connection/${clientId}/state=1`)

    const local = await connectClient(wren.url)
    await local.client.subscribeAsync('#', { qos: 1 })
    const remote = await connectClient(mosquitto.url)
    await remote.client.subscribeAsync('#', { qos: 1 })
    await remote.client.publishAsync('site/m1', 'up', { qos: 1 })
    expect(text(await local.inbox.next((m) => m.topic === 'site/m1', 5000))).toBe('site/m1=up')
    await local.client.publishAsync('cmd/open', 'down', { qos: 1 })
    expect(text(await remote.inbox.next((m) => m.topic === 'cmd/open', 5000))).toBe('cmd/open=down')

    await local.client.publishAsync('shared/a', 'from-wren', { qos: 1 })
    await remote.client.publishAsync('shared/b', 'from-mosquitto', { qos: 1 })
    // A marker crosses the bridge each way after the shared messages (cmd/# into Mosquitto, site/# into Wren), and
    // neither receiver published it itself: once it arrives, the shared message ahead of it on that link has too.
    await local.client.publishAsync('cmd/marker', 'm', { qos: 1 })
    await remote.client.publishAsync('site/marker', 'm', { qos: 1 })
    await local.inbox.next((m) => m.topic === 'site/marker', 5000)
    await remote.inbox.next((m) => m.topic === 'cmd/marker', 5000)
    const sharedOn = (inbox: typeof local.inbox) => inbox.received.filter((m) => m.topic.startsWith('shared/')).map(text).sort()
    expect(sharedOn(local.inbox)).toEqual(['shared/a=from-wren', 'shared/b=from-mosquitto'])
    expect(sharedOn(remote.inbox)).toEqual(['shared/a=from-wren', 'shared/b=from-mosquitto'])
    // A plain client's $SYS write is dropped: the v5 link's notification, sent before the markers, never came
    if (!bridgeBit) expect(watcher.inbox.received).toEqual([])
  })
})
