import { createServer } from 'node:net'
import { once } from 'node:events'
import { pathToFileURL } from 'node:url'
import { createBroker } from '@wren/core'
import { createBridge } from '@wren/bridge'

/** A broker on a TCP port of its own. */
async function broker(port, host) {
  const instance = createBroker()
  await instance.ready()
  const server = createServer((socket) => instance.handle(socket, { transport: 'tcp', remoteAddress: socket.remoteAddress }))
  await once(server.listen(port, host), 'listening')
  const close = async () => {
    await instance.close()
    await new Promise((resolve) => server.close(resolve))
  }
  return { broker: instance, port: server.address().port, close }
}

/**
 * Two brokers, as a site and a central office would run them, and a bridge from the site to the centre:
 * the site's `sensors/...` go up as `site-1/sensors/...`, and the centre's `site-1/commands/...` come down
 * as `commands/...`. The mosquitto.conf equivalent of the bridge is:
 *
 *   connection central
 *   address 127.0.0.1:<central port>
 *   remote_clientid site-1
 *   topic sensors/# out 1 "" site-1/
 *   topic commands/# in 1 "" site-1/
 */
export async function start({ sitePort = 1883, centralPort = 1884, host = '127.0.0.1' } = {}) {
  const central = await broker(centralPort, host)
  const site = await broker(sitePort, host)
  const bridge = createBridge(site.broker, {
    name: 'central',
    addresses: [{ host, port: central.port }],
    remoteClientId: 'site-1',
    topics: [
      { pattern: 'sensors/#', direction: 'out', qos: 1, remotePrefix: 'site-1/' },
      { pattern: 'commands/#', direction: 'in', qos: 1, remotePrefix: 'site-1/' },
    ],
  })
  bridge.on('state', (state) => console.log(`bridge ${state}`))
  const close = async () => {
    // The bridge says '0' on its state topic and leaves before the brokers close.
    await bridge.stop()
    await site.close()
    await central.close()
  }
  return { site, central, bridge, close }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const host = process.env.MQTT_HOST ?? '127.0.0.1'
  const { site, central, close } = await start({
    sitePort: Number(process.env.SITE_PORT ?? 1883),
    centralPort: Number(process.env.CENTRAL_PORT ?? 1884),
    host,
  })
  console.log(`site broker on port ${site.port}, central broker on port ${central.port}`)
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => close().then(() => process.exit(0)))
  }
}
