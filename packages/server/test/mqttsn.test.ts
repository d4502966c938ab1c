import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectAsync } from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { setPassword } from '@wren/auth-file'
import { MqttSnClient, ReturnCode, TopicIdType } from '@wren/gateway-mqttsn'
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

  it('with a password file, MQTT-SN clients log in through it with the gateway\'s login, or their own from a clients list', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wren-mqttsn-auth-'))
    onTestFinished(() => rm(dir, { recursive: true, force: true }))
    const passwordFile = join(dir, 'passwd')
    const aclFile = join(dir, 'acl')
    await setPassword(passwordFile, 'sensors', 'sensors-pw')
    await setPassword(passwordFile, 'alice', 'alice-pw')
    // The ACL sees the user name the login gives, and the MQTT-SN client id (%c).
    await writeFile(aclFile, 'user sensors\npattern write sensors/%c/#\n\nuser alice\ntopic readwrite #\n')
    const connect = async (port: number, clientId: string): Promise<{ client: MqttSnClient; code: ReturnCode }> => {
      const client = await MqttSnClient.open({ port, clientId, retryInterval: 1000 })
      onTestFinished(() => client.close())
      return { client, code: await client.connect() }
    }

    // No login configured: the password file refuses them, as it refuses any client without credentials.
    const closed = await startServer({ ...loopback, passwordFile, mqttsn: { port: 0 } })
    onTestFinished(() => closed.close())
    expect((await connect(closed.addresses[1]!.port, 'dev-1')).code).toBe(ReturnCode.NotSupported)

    const server = await startServer({
      ...loopback,
      passwordFile,
      aclFile,
      mqttsn: {
        port: 0,
        username: 'sensors',
        password: 'sensors-pw',
        predefined: { '9': 'sensors/mqtt-sn-qos-1/beacon' },
        // QoS -1 PUBLISHes come from one shared session, whose client id is listed like a device's.
        clients: { 'dev-1': {}, 'dev-2': { username: 'alice', password: 'alice-pw' }, 'dev-3': { username: 'alice', password: 'wrong' }, 'mqtt-sn-qos-1': {} },
      },
    })
    onTestFinished(() => server.close())
    const snPort = server.addresses.find((a) => a.transport === 'mqtt-sn')!.port
    const tcp = await connectAsync(server.addresses[0]!.url, { reconnectPeriod: 0, username: 'alice', password: 'alice-pw' })
    onTestFinished(() => {
      tcp.end(true)
    })
    await tcp.subscribeAsync('sensors/#', { qos: 1 })
    const received: string[] = []
    const nextArrival = (): Promise<void> => new Promise((resolve) => tcp.once('message', () => resolve()))
    tcp.on('message', (topic, payload) => received.push(`${topic}=${payload.toString()}`))
    let arrived = nextArrival()
    const dev1 = await connect(snPort, 'dev-1')
    expect(dev1.code).toBe(ReturnCode.Accepted)
    expect(await dev1.client.publish('sensors/dev-2/t', 'not mine', { qos: 1 })).toBe(ReturnCode.NotSupported)
    expect(await dev1.client.publish('sensors/dev-1/t', '21.5', { qos: 1 })).toBe(ReturnCode.Accepted)
    await arrived
    arrived = nextArrival()
    const beacon = await MqttSnClient.open({ port: snPort, clientId: 'unused', predefined: { 9: 'sensors/mqtt-sn-qos-1/beacon' } })
    onTestFinished(() => beacon.close())
    await beacon.publish('sensors/mqtt-sn-qos-1/beacon', 'qos -1', { qos: -1 })
    await arrived
    expect(received).toEqual(['sensors/dev-1/t=21.5', 'sensors/mqtt-sn-qos-1/beacon=qos -1'])
    expect((await connect(snPort, 'dev-2')).code).toBe(ReturnCode.Accepted)
    // Not in the list, or listed with a login the password file refuses.
    expect((await connect(snPort, 'dev-9')).code).toBe(ReturnCode.NotSupported)
    expect((await connect(snPort, 'dev-3')).code).toBe(ReturnCode.NotSupported)
    const users = server.broker.clients().filter((c) => c.meta.transport === 'mqtt-sn').map((c) => [c.id, c.username])
    expect(users.sort()).toEqual([['dev-1', 'sensors'], ['dev-2', 'alice'], ['mqtt-sn-qos-1', 'sensors']])
  })

  it('wren --persistence sqlite: a device\'s topic ids (CleanSession false) survive the server\'s restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wren-mqttsn-restart-'))
    onTestFinished(() => rm(dir, { recursive: true, force: true }))
    const args = ['--no-ws', '--sys-interval', '0', '--persistence', `sqlite:${join(dir, 'wren.db')}`, '--mqttsn-port', '0']
    const first = await startWren(args)
    onTestFinished(() => first.stop())
    const device = await MqttSnClient.connect({ port: first.ports['mqtt-sn']!, clientId: 'meter-7', cleanSession: false, retryInterval: 1000 })
    const topicId = await device.register('meters/7/kwh')
    await device.disconnect()
    device.close()
    await first.stop()

    const second = await startWren(args)
    onTestFinished(() => second.stop())
    const tcp = await connectAsync(second.urls.tcp!, { reconnectPeriod: 0 })
    onTestFinished(() => {
      tcp.end(true)
    })
    await tcp.subscribeAsync('meters/#', { qos: 1 })
    const arrived = new Promise<string>((resolve) => tcp.once('message', (topic, payload) => resolve(`${topic}=${payload.toString()}`)))
    const back = await MqttSnClient.connect({ port: second.ports['mqtt-sn']!, clientId: 'meter-7', cleanSession: false, retryInterval: 1000 })
    onTestFinished(() => back.close())
    expect(await back.publish({ topicIdType: TopicIdType.Normal, topicId }, '1234.5', { qos: 1 })).toBe(ReturnCode.Accepted)
    expect(await arrived).toBe('meters/7/kwh=1234.5')
  })

  it('checks the mqttsn setting', async () => {
    await expect(startServer({ ...loopback, mqttsn: { port: 70000 } as never })).rejects.toThrow(/config.mqttsn.port must be an integer from 0 to 65535/)
    const refused: unknown = await startServer({ ...loopback, mqttsn: { port: 0, predefined: { '0': 'x' } } }).catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(ConfigError)
    expect((refused as ConfigError).code).toBe('WREN_CONFIG_INVALID')
    await expect(startServer({ ...loopback, mqttsn: { port: 0, predefined: { '1': 'a/#' } } })).rejects.toThrow(/without wildcards/)
    await expect(startServer({ ...loopback, mqttsn: { port: 0, colour: 'red' } as never })).rejects.toThrow(/config.mqttsn.colour is not a known setting/)
    await expect(startServer({ ...loopback, mqttsn: { port: 0, advertise: { interval: 0 } } })).rejects.toThrow(/config.mqttsn.advertise.interval must be an integer from 1/)
    await expect(startServer({ ...loopback, mqttsn: { port: 0, clients: { dev: { user: 'x' } } as never } })).rejects.toThrow(/config.mqttsn.clients.dev.user is not a known setting/)
    await expect(startServer({ ...loopback, mqttsn: { port: 0, password: '' } })).rejects.toThrow(/config.mqttsn.password/)
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
