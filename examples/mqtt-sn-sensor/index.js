import dgram from 'node:dgram'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { pathToFileURL } from 'node:url'
import { createBroker } from '@wren/core'
import { MqttSnClient, attachMqttSn } from '@wren/gateway-mqttsn'

/** A broker on TCP with an MQTT-SN gateway on UDP: sensors on UDP and MQTT clients on TCP share its topics. */
export async function startBroker({ tcpPort = 1883, udpPort = 1884, host = '127.0.0.1' } = {}) {
  const broker = createBroker()
  await broker.ready()
  const server = createServer((socket) => broker.handle(socket, { transport: 'tcp', remoteAddress: socket.remoteAddress }))
  await once(server.listen(tcpPort, host), 'listening')
  const socket = dgram.createSocket('udp4')
  await once(socket.bind(udpPort, host), 'listening')
  const gateway = attachMqttSn(broker, socket, { gatewayId: 1 })
  const close = async () => {
    gateway.close()
    socket.close()
    await broker.close()
    await new Promise((resolve) => server.close(resolve))
  }
  return { broker, gateway, tcpPort: server.address().port, udpPort: socket.address().port, close }
}

/**
 * A battery sensor's duty cycle: wake, publish a reading (QoS 1), take any configuration that arrived while it
 * slept (the gateway buffers it, §6.14), sleep again. Runs `cycles` times, `sleepSeconds` apart.
 */
export async function runSensor({ udpPort, host = '127.0.0.1', id = 'sensor-1', cycles = 3, sleepSeconds = 5, log = console.log }) {
  const topic = `sensors/${id}/temperature`
  const client = await MqttSnClient.connect({ port: udpPort, host, clientId: id, duration: sleepSeconds * 2 })
  await client.subscribe(`sensors/${id}/config`, 1)
  let interval = sleepSeconds
  for (let cycle = 1; cycle <= cycles; cycle++) {
    const reading = { cycle, celsius: 20 + cycle / 10, interval }
    await client.publish(topic, JSON.stringify(reading), { qos: 1 })
    log(`${id}: published ${JSON.stringify(reading)}`)
    if (cycle === cycles) break
    // Asleep: the radio is off, the gateway keeps what is sent to us until we wake.
    await client.sleep(interval * 2)
    await new Promise((resolve) => setTimeout(resolve, interval * 1000))
    await client.wake()
    for (const message of client.inbox.splice(0)) {
      const config = JSON.parse(message.payload.toString())
      if (typeof config.interval === 'number') interval = config.interval
      log(`${id}: new config ${message.payload.toString()}`)
    }
  }
  await client.disconnect()
  client.close()
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const host = process.env.HOST ?? '127.0.0.1'
  const started = await startBroker({ tcpPort: Number(process.env.MQTT_PORT ?? 1883), udpPort: Number(process.env.MQTTSN_PORT ?? 1884), host })
  console.log(`MQTT over TCP on port ${started.tcpPort}, MQTT-SN over UDP on port ${started.udpPort}`)
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => started.close().then(() => process.exit(0)))
  await runSensor({
    udpPort: started.udpPort,
    host,
    cycles: Number(process.env.CYCLES ?? 5),
    sleepSeconds: Number(process.env.SLEEP_SECONDS ?? 5),
  })
  console.log('sensor done')
}
