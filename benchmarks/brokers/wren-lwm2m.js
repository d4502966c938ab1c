// Wren from @wren/core's built dist with the LwM2M gateway of @wren/gateway-lwm2m: TCP on 127.0.0.1:<argv[2]>,
// LwM2M (CoAP) on udp 127.0.0.1:<argv[3]>. Limits at their defaults; $SYS off.
import dgram from 'node:dgram'
import net from 'node:net'
import { createBroker } from '@wren/core'
import { attachLwm2m } from '@wren/gateway-lwm2m'

const broker = createBroker({ sysInterval: 0 })
await broker.ready()
net.createServer((socket) => broker.handle(socket)).listen(Number(process.argv[2]), '127.0.0.1')
const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024, sendBufferSize: 8 * 1024 * 1024 })
socket.bind(Number(process.argv[3]), '127.0.0.1')
attachLwm2m(broker, socket, { sysInterval: 0 })
process.on('SIGTERM', () => process.exit(0))
