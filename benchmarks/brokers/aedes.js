// Aedes 1.x with its default in-memory persistence, served on 127.0.0.1:<port> (argv[2]).
import net from 'node:net'
import { Aedes } from 'aedes'

const port = Number(process.argv[2])
const aedes = await Aedes.createBroker()
const server = net.createServer(aedes.handle)
server.listen(port, '127.0.0.1')
// A clean exit lets `node --cpu-prof` write its profile.
process.on('SIGTERM', () => process.exit(0))
