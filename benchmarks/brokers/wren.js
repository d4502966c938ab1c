// Wren from @wren/core's built dist, served on 127.0.0.1:<port> (argv[2]). The queue limit is raised as it
// is for Mosquitto, so a scenario measures delivery speed rather than the drop policy.
import net from 'node:net'
import { createBroker } from '@wren/core'

const port = Number(process.argv[2])
const broker = createBroker({ sysInterval: 0, maxQueued: 1_000_000 })
await broker.ready()
const server = net.createServer((socket) => broker.handle(socket))
server.listen(port, '127.0.0.1')
// A clean exit lets `node --cpu-prof` write its profile.
process.on('SIGTERM', () => process.exit(0))
