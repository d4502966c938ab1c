import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectAsync } from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { RawDevice } from '../../gateway-lwm2m/test/helpers.js'
import { encodeTlv } from '@wren/gateway-lwm2m'
import { ConfigError, startServer } from '../src/index.js'
import { runWren, startWren } from './helpers/wren-process.js'

const loopback = { host: '127.0.0.1', port: 0, wsPort: -1, sysInterval: 0, logLevel: 'silent' } as const

const METER_XML = `<LWM2M><Object ObjectType="MODefinition"><Name>Meter</Name><ObjectID>3424</ObjectID><MultipleInstances>Multiple</MultipleInstances>
<Resources><Item ID="6"><Name>Type</Name><Operations>RW</Operations><MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory><Type>Integer</Type></Item></Resources></Object></LWM2M>`

describe('the LwM2M gateway in the server', () => {
  it('is off by default; with lwm2m set a device registers and an MQTT app reads it, typed by an object XML from the config', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wren-lwm2m-'))
    onTestFinished(() => rm(dir, { recursive: true, force: true }))
    await writeFile(join(dir, 'meter.xml'), METER_XML)
    const plain = await startServer(loopback)
    expect(plain.addresses.map((a) => a.transport)).toEqual(['tcp'])
    await plain.close()

    const server = await startServer({ ...loopback, lwm2m: { port: 0, mountpoint: 'devices/${endpoint}/', objects: [join(dir, 'meter.xml')] } })
    onTestFinished(() => server.close())
    const address = server.addresses.find((a) => a.transport === 'lwm2m')
    expect(address?.url).toBe(`coap://127.0.0.1:${address?.port}`)
    const app = await connectAsync(server.addresses[0]!.url, { reconnectPeriod: 0 })
    onTestFinished(() => {
      app.end(true)
    })
    await app.subscribeAsync('devices/+/up/#')
    const messages: Array<{ topic: string; body: { data: Record<string, unknown> } }> = []
    app.on('message', (topic, payload) => messages.push({ topic, body: JSON.parse(payload.toString()) }))
    const device = await RawDevice.open(address!.port)
    expect((await device.register('meter-1', ['lt=300', 'lwm2m=1.0'], '</3424/0>')).code).toBe('2.01')
    await expect.poll(() => messages.map((m) => m.topic)).toEqual(['devices/meter-1/up/register'])
    await app.publishAsync('devices/meter-1/dn', JSON.stringify({ reqID: 1, msgType: 'read', data: { path: '/3424/0/6' } }))
    device.respond(await device.requests.next(), '2.05', encodeTlv([{ kind: 'resource', id: 6, value: Buffer.from([3]) }]), 11542)
    await expect.poll(() => messages.length).toBe(2)
    expect(messages[1]?.body.data.content).toEqual([{ path: '/3424/0/6', value: 3 }])
  })

  it('checks the lwm2m setting', async () => {
    await expect(startServer({ ...loopback, lwm2m: { port: 70000 } })).rejects.toThrow(/config.lwm2m.port must be an integer from 0 to 65535/)
    await expect(startServer({ ...loopback, lwm2m: { port: 0, colour: 'red' } as never })).rejects.toThrow(/config.lwm2m.colour is not a known setting/)
    await expect(startServer({ ...loopback, lwm2m: { port: 0, autoObserve: ['3/0'] } })).rejects.toThrow(/LwM2M path/)
    await expect(startServer({ ...loopback, lwm2m: { port: 0, lifetimeMin: 100, lifetimeMax: 10 } })).rejects.toThrow(ConfigError)
    await expect(startServer({ ...loopback, lwm2m: { port: 0, objects: ['/nonexistent/objects.xml'] } })).rejects.toThrow(/cannot load/)
    await expect(startServer({ ...loopback, lwm2m: { port: 0, host: '0.0.0.0' } })).rejects.toThrow(/host 0.0.0.0 with no authentication/)
  })

  it('wren --lwm2m-port serves LwM2M, keeping the other lwm2m settings of the config file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wren-lwm2m-'))
    onTestFinished(() => rm(dir, { recursive: true, force: true }))
    const file = join(dir, 'wren.json')
    await writeFile(file, JSON.stringify({ lwm2m: { port: 1, endpoints: ['allowed'] } }))
    const wren = await startWren(['--config', file, '--lwm2m-port', '0', '--log-level', 'info'])
    onTestFinished(() => wren.stop())
    const port = wren.ports.lwm2m
    expect(port).toBeGreaterThan(1)
    const device = await RawDevice.open(port!)
    expect((await device.register('stranger')).code).toBe('4.03')
    expect((await device.register('allowed')).code).toBe('2.01')
    const bad = await runWren(['--lwm2m-port', 'x'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toBe('wren: --lwm2m-port must be an integer from 0 to 65535, got "x"\n')
  })
})
