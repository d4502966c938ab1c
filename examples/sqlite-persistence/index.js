import { createServer } from 'node:net'
import { once } from 'node:events'
import { pathToFileURL } from 'node:url'
import { createBroker } from '@wren/core'
import { createSqlitePersistence } from '@wren/persistence-sqlite'

/** A broker on TCP whose retained messages, persistent sessions and their queues live in one SQLite file. */
export async function start({ file = 'wren.db', port = 1883, host = '127.0.0.1' } = {}) {
  const broker = createBroker({ persistence: createSqlitePersistence({ path: file }) })
  // Sessions and subscriptions kept in the file are loaded before the first client is let in.
  await broker.ready()
  const server = createServer((socket) => broker.handle(socket, { transport: 'tcp', remoteAddress: socket.remoteAddress }))
  await once(server.listen(port, host), 'listening')

  const close = async () => {
    // Ends every client, then closes the database.
    await broker.close()
    await new Promise((resolve) => server.close(resolve))
  }
  return { broker, port: server.address().port, close }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.env.WREN_DB ?? 'wren.db'
  const { port, close } = await start({ file, port: Number(process.env.MQTT_PORT ?? 1883), host: process.env.MQTT_HOST ?? '127.0.0.1' })
  console.log(`MQTT over TCP on port ${port}, state in ${file}`)
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => close().then(() => process.exit(0)))
  }
}
