import net from 'node:net'
import { createBroker } from '@wren/core'

const broker = createBroker()
await broker.ready()

const server = net.createServer((socket) => {
  broker.handle(socket, { transport: 'tcp', remoteAddress: socket.remoteAddress, remotePort: socket.remotePort })
})
server.listen(21883, '127.0.0.1', () => console.log('MQTT on mqtt://localhost:1883'))
