/**
 * One node of the cluster: a broker on a TCP port, its state in Redis (shared with the other nodes through
 * the same prefix), and the Redis cluster bus that carries messages, subscriptions and ownership between nodes.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 NODE_ID=n1 MQTT_PORT=1883 node node.mjs
 */
import { createServer } from 'node:net'
import { createRedisCluster } from '@wren/cluster-redis'
import { createBroker } from '@wren/core'
import { createRedisPersistence } from '@wren/persistence-redis'

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const port = Number(process.env.MQTT_PORT ?? 1883)
const host = process.env.MQTT_HOST ?? '127.0.0.1'

const print = (level) => (obj, msg) => console.log(`[${cluster.nodeId}] ${level} ${msg ?? ''} ${JSON.stringify(obj)}`)
const logger = { debug() {}, info: print('info'), warn: print('warn'), error: print('error') }

const cluster = createRedisCluster({
  url: redisUrl,
  nodeId: process.env.NODE_ID,
  // A node that stops renewing its lease for 3 s is declared dead; its clients' wills follow within 1 s more.
  leaseMs: 3000,
  heartbeatMs: 1000,
  logger,
})
const broker = createBroker({ cluster, persistence: createRedisPersistence({ url: redisUrl }), logger })
await broker.ready()

const server = createServer((socket) => broker.handle(socket, { transport: 'tcp', remoteAddress: socket.remoteAddress }))
server.listen(port, host, () => console.log(`[${cluster.nodeId}] MQTT on ${host}:${server.address().port}`))

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    server.close()
    await broker.close()
    process.exit(0)
  })
}
