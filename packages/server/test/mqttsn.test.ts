import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectAsync } from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { MqttSnClient, ReturnCode } from '@wren/gateway-mqttsn'
import { ConfigError, startServer } from '../src/index.js'
import { adminUrl, runWren, startWren } from './helpers/wren-process.js'

const loopback = { host: '127.0.0.1', port: 0, wsPort: -1, sysInterval: 0, logLevel: 'silent' } as const

describe('the MQTT-SN gateway in the server', () => {
  it('is off by default; with mqttsn set, MQTT-SN clients publish to TCP subscribers (predefined ids and QoS -1 from config)', async () => {
    const plain = await startServer(loopback)
    expect(plain.addresses.map((a) => a.transport)).toEqual(['tcp'])
    await plain.close()

    const server = await startServer({ ...loopback, mqttsn: { port: 0, gatewayId: 3, predefined: { '5': 'plant/line1' }, qosMinus1: true } })
    onTestFinished(() => server.close())
    const sn = server.addresses.find((a) => a.transport === 'mqtt-sn')
    expect(sn?.url).toBe(`mqttsn://127.0.0.1:${sn?.port}`)
    const tcp = await connectAsync(server.addresses[0]!.url, { reconnectPeriod: 0 })
    onTestFinished(() => {
      tcp.end(true)
    })
    await tcp.subscribeAsync('plant/#', { qos: 1 })
    const received: string[] = []
    const two = new Promise<void>((resolve) =>
      tcp.on('message', (topic, payload) => {
        received.push(`${topic}=${payload.toString()}`)
        if (received.length === 2) resolve()
      }),
    )
    const client = await MqttSnClient.connect({ port: sn!.port, clientId: 'server-sn', predefined: { 5: 'plant/line1' } })
    onTestFinished(() => client.close())
    expect((await client.searchGateway()).gatewayId).toBe(3)
    expect(await client.publish('plant/line1', 'via id', { qos: 1 })).toBe(ReturnCode.Accepted)
    const anonymous = await MqttSnClient.open({ port: sn!.port, clientId: 'unused', predefined: { 5: 'plant/line1' } })
    onTestFinished(() => anonymous.close())
    await anonymous.publish('plant/line1', 'qos -1', { qos: -1 })
    await two
    expect(received).toEqual(['plant/line1=via id', 'plant/line1=qos -1'])
  })

  it('checks the mqttsn setting', async () => {
    await expect(startServer({ ...loopback, mqttsn: { port: 70000 } as never })).rejects.toThrow(/config.mqttsn.port must be an integer from 0 to 65535/)
    await expect(startServer({ ...loopback, mqttsn: { port: 0, predefined: { '0': 'x' } } })).rejects.toThrow(ConfigError)
    await expect(startServer({ ...loopback, mqttsn: { port: 0, predefined: { '1': 'a/#' } } })).rejects.toThrow(/without wildcards/)
    await expect(startServer({ ...loopback, mqttsn: { port: 0, colour: 'red' } as never })).rejects.toThrow(/config.mqttsn.colour is not a known setting/)
    await expect(startServer({ ...loopback, mqttsn: { port: 0, advertise: { interval: 0 } } })).rejects.toThrow(/config.mqttsn.advertise.interval must be an integer from 1/)
    // Its own host follows the safe defaults: a public address with nobody authenticated is refused.
    await expect(startServer({ ...loopback, mqttsn: { port: 0, host: '0.0.0.0' } })).rejects.toThrow(/host 0.0.0.0 with no authentication/)
  })

  it('wren --mqttsn-port serves MQTT-SN, keeping the other mqttsn settings of the config file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wren-mqttsn-'))
    onTestFinished(() => rm(dir, { recursive: true, force: true }))
    const file = join(dir, 'wren.json')
    await writeFile(file, JSON.stringify({ mqttsn: { port: 1, gatewayId: 77 } }))
    const wren = await startWren(['--config', file, '--mqttsn-port', '0', '--log-level', 'info', '--admin-port', '0'])
    onTestFinished(() => wren.stop())
    const admin = await adminUrl(wren)
    const port = wren.ports['mqtt-sn']
    expect(port).toBeGreaterThan(1)
    const client = await MqttSnClient.open({ port: port!, clientId: 'cli-sn' })
    onTestFinished(() => client.close())
    expect(await client.searchGateway()).toEqual({ type: 'gwinfo', gatewayId: 77 })
    // The gateway reports by itself on the admin port.
    const gateway = (await (await fetch(`${admin}/api/v1/gateways/mqtt-sn`)).json()) as { up: boolean; values: Record<string, number>; details: { gatewayId: number } }
    expect(gateway).toMatchObject({ up: true, details: { gatewayId: 77 } })
    expect(gateway.values.datagrams_received).toBeGreaterThanOrEqual(1)
    const bad = await runWren(['--mqttsn-port', 'x'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toBe('wren: --mqttsn-port must be an integer from 0 to 65535, got "x"\n')
  })
})
