// Aedes 1.x served on 127.0.0.1:<port> (argv[2]), with its default in-memory persistence, or with
// aedes-persistence-redis when argv[3] is a `redis://` URL. Routing stays on Aedes' in-process mqemitter either
// way: mqemitter-redis is for several brokers sharing one Redis, and this is one broker. The listener's
// transport comes from listen.js.
import { createRequire } from 'node:module'
import { Aedes } from 'aedes'
import { listen } from './listen.js'

const port = Number(process.argv[2])
const store = process.argv[3] ?? 'memory'

function persistenceFor(spec) {
  if (spec === 'memory') return undefined
  if (spec.startsWith('redis://')) {
    const aedesPersistenceRedis = createRequire(import.meta.url)('aedes-persistence-redis')
    // Its default replays at most 1,000 queued messages per reconnect; raised like every other queue limit.
    return aedesPersistenceRedis({ ...redisOptions(spec), maxSessionDelivery: 1_000_000 })
  }
  throw new Error(`unknown persistence ${spec}`)
}

function redisOptions(url) {
  const { hostname, port: redisPort } = new URL(url)
  return { host: hostname, port: Number(redisPort) }
}

const aedes = await Aedes.createBroker({ persistence: persistenceFor(store) })
listen(port, process.argv.slice(4), (stream) => aedes.handle(stream), { backlog: false })
// A clean exit lets `node --cpu-prof` write its profile.
process.on('SIGTERM', () => process.exit(0))
