// Wren from @wren/core's built dist, served on 127.0.0.1:<port> (argv[2]), with the persistence named by
// argv[3]: `memory` (the default), `sqlite:<file>` or a `redis://` URL. Every limit is at its default: a
// connected subscriber's full queue holds publishers back rather than dropping, so nothing needs raising.
// With `metrics` after them, the broker runs as with the server's admin port: the store is timed and the
// Prometheus metrics are read every second (fifteen times Prometheus' default scrape interval). With
// `max-queued=N`, offline queues hold N messages (the persistent scenario's backlog) instead of the default.
// With `password-file=<file>`, clients log in as a user of that file (@wren/auth-file, at its defaults); the
// listener's transport comes from listen.js.
import { createBroker, createMemoryPersistence } from '@wren/core'
import { argValue, listen } from './listen.js'

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
const maxQueued = Number(argValue(extras, 'max-queued') ?? Number.NaN)
const passwordFile = argValue(extras, 'password-file')
const observability = withMetrics ? await import('@wren/observability') : null
const persistence = await persistenceFor(store)
const fileAuth = passwordFile ? (await import('@wren/auth-file')).createFileAuth({ passwordFile }) : null
const broker = createBroker({
  sysInterval: 0,
  ...(fileAuth ? { hooks: fileAuth.hooks } : {}),
  persistence: observability ? observability.timePersistence(persistence) : persistence,
  ...(Number.isInteger(maxQueued) ? { maxQueued } : {}),
})
await broker.ready()
if (observability) {
  const metrics = observability.createMetrics(broker)
  setInterval(() => void metrics.metrics(), 1000)
}
listen(port, extras, (stream, meta) => broker.handle(stream, meta))
// A clean exit lets `node --cpu-prof` write its profile.
process.on('SIGTERM', () => process.exit(0))
