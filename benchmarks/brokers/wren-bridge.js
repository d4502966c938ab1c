// Wren from the built dist on 127.0.0.1:<port> (argv[2]) with one bridge (@wren/bridge) to the broker on
// 127.0.0.1:<remote port> (argv[3]) forwarding `bench/#` out at QoS 1: the Wren side of `node bridge.js`.
import net from 'node:net'
import { createBroker } from '@wren/core'
import { Bridge } from '@wren/bridge'

const port = Number(process.argv[2])
const remotePort = Number(process.argv[3])
const broker = createBroker({ sysInterval: 0, maxQueued: 1_000_000 })
await broker.ready()
const bridge = new Bridge(broker, {
  name: 'bench',
  remoteClientId: 'wren-bench-bridge',
  addresses: [{ host: '127.0.0.1', port: remotePort }],
  sysInterval: 0,
  topics: [{ pattern: 'bench/#', direction: 'out', qos: 1 }],
})
bridge.on('connected', () => console.log('bridge connected'))
await bridge.start()
net.createServer((socket) => broker.handle(socket)).listen(port, '127.0.0.1')
process.on('SIGTERM', () => process.exit(0))
