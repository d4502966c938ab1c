// Wren from @wren/core's built dist with the MQTT-SN gateway of @wren/gateway-mqttsn: TCP on 127.0.0.1:<argv[2]>,
// MQTT-SN on udp 127.0.0.1:<argv[3]>. The broker's limits are at their defaults (as in wren.js); the gateway's
// client and in-flight caps are raised so that 100 clients publishing at once measure speed, not refusals.
import dgram from 'node:dgram'
import net from 'node:net'
import { createBroker } from '@wren/core'
import { attachMqttSn } from '@wren/gateway-mqttsn'

const broker = createBroker({ sysInterval: 0 })
await broker.ready()
net.createServer((socket) => broker.handle(socket)).listen(Number(process.argv[2]), '127.0.0.1')
const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024, sendBufferSize: 8 * 1024 * 1024 })
socket.bind(Number(process.argv[3]), '127.0.0.1')
attachMqttSn(broker, socket, { sysInterval: 0, maxClients: 100_000, maxInflightPerClient: 1000 })
process.on('SIGTERM', () => process.exit(0))
