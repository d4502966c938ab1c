// Wren from @wren/core's built dist, served on 127.0.0.1:<port> (argv[2]), with the persistence named by
// argv[3]: `memory` (the default), `sqlite:<file>` or a `redis://` URL. Every limit is at its default: a
// connected subscriber's full queue holds publishers back rather than dropping, so nothing needs raising.
// With `metrics` after them, the broker runs as with the server's admin port: the store is timed and the
// Prometheus metrics are read every second (fifteen times Prometheus' default scrape interval). With
// `max-queued=N`, offline queues hold N messages (the persistent scenario's backlog) instead of the default.
import net from 'node:net'
import { createBroker, createMemoryPersistence } from '@wren/core'

const port = Number(process.argv[2])
const store = process.argv[3] ?? 'memory'

async function persistenceFor(spec) {
  if (spec === 'memory') return createMemoryPersistence()
  if (spec.startsWith('sqlite:')) {
    const { createSqlitePersistence } = await import('@wren/persistence-sqlite')
    return createSqlitePersistence({ path: spec.slice('sqlite:'.length) })
  }
  if (spec.startsWith('redis://')) {
    const { createRedisPersistence } = await import('@wren/persistence-redis')
    return createRedisPersistence({ url: spec })
  }
  throw new Error(`unknown persistence ${spec}`)
}

const extras = process.argv.slice(4)
const withMetrics = extras.includes('metrics')
const maxQueued = Number(extras.find((arg) => arg.startsWith('max-queued='))?.slice('max-queued='.length) ?? Number.NaN)
const observability = withMetrics ? await import('@wren/observability') : null
const persistence = await persistenceFor(store)
const broker = createBroker({
  sysInterval: 0,
  persistence: observability ? observability.timePersistence(persistence) : persistence,
  ...(Number.isInteger(maxQueued) ? { maxQueued } : {}),
})
await broker.ready()
if (observability) {
  const metrics = observability.createMetrics(broker)
  setInterval(() => void metrics.metrics(), 1000)
}
const server = net.createServer((socket) => broker.handle(socket))
server.listen(port, '127.0.0.1')
// A clean exit lets `node --cpu-prof` write its profile.
process.on('SIGTERM', () => process.exit(0))
