import { createRequire } from 'node:module'
import { describe, expect, it, onTestFinished } from 'vitest'
import { App, startGateway } from './helpers.js'

// Both clients are CommonJS without types: they are driven through these few calls.
interface SmartObject {
  init(oid: number, iid: number, resources: Record<number, unknown>): void
  write(oid: number, iid: number, rid: number, value: unknown, callback: () => void): void
}
interface CoapNode {
  register(ip: string, port: number, callback: (error: unknown, response: { status: string }) => void): void
  update(attributes: Record<string, unknown>, callback: (error: unknown, response: { status: string }) => void): void
  deregister(callback: (error: unknown, response: { status: string }) => void): void
}
interface DeviceInformation {
  location: string
}
interface LwM2MClient {
  init(config: unknown): void
  registry: {
    create(uri: string, callback: (error: unknown) => void): void
    setResource(uri: string, id: string, value: string, callback: (error: unknown) => void): void
  }
  register(host: string, port: number, url: null, endpoint: string, callback: (error: unknown, info: DeviceInformation) => void): void
  update(info: DeviceInformation, callback: (error: unknown) => void): void
  unregister(info: DeviceInformation, callback: (error: unknown) => void): void
}

const require = createRequire(import.meta.url)

function call<T>(start: (callback: (error: unknown, result: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => start((error, result) => (error ? reject(error) : resolve(result))))
}

describe('coap-node 0.2.5 as the device (TLV, smartobject resources)', () => {
  it('registers, answers read / discover / write / execute / observe, updates and deregisters', async () => {
    const gw = await startGateway()
    const app = await App.connect(gw)
    const CoapNodeClass = require('coap-node') as new (name: string, so: SmartObject, options: unknown) => CoapNode
    const SmartObjectClass = require('smartobject') as new () => SmartObject
    const so = new SmartObjectClass()
    let resets = 0
    so.init(3303, 0, { 5700: 21.5, 5701: 'Cel', 5605: { exec: (callback: (error: null, result: boolean) => void) => callback(null, ++resets > 0) } })
    so.init(3311, 0, { 5850: false, 5851: 10 })
    const node = new CoapNodeClass('coap-node-1', so, { lifetime: 300 })
    expect((await call<{ status: string }>((cb) => node.register('127.0.0.1', gw.udpPort, cb))).status).toBe('2.01')
    const register = await app.up('lwm2m/coap-node-1/up/register')
    // coap-node lists `</>;ct=...` (its content formats) first: that root link is not an object.
    expect(register.data).toMatchObject({ ep: 'coap-node-1', lt: 300, objectList: ['/3/0', '/4/0', '/3303/0', '/3311/0'] })

    const resp = 'lwm2m/coap-node-1/up/resp'
    await app.command('coap-node-1', { reqID: 1, msgType: 'read', data: { path: '/3303/0' } })
    const read = await app.up(resp)
    expect(read.data).toMatchObject({ reqPath: '/3303/0', code: '2.05', codeMsg: 'content' })
    // coap-node also sends a placeholder string for the executable resource; the readable ones are typed.
    expect(read.data.content).toEqual(expect.arrayContaining([{ path: '/3303/0/5700', value: 21.5 }, { path: '/3303/0/5701', value: 'Cel' }]))
    await app.command('coap-node-1', { reqID: 2, msgType: 'discover', data: { path: '/3303/0' } })
    expect((await app.up(resp)).data.content).toEqual(['</3303/0>;pmin=0;pmax=60', '</3303/0/5605>', '</3303/0/5700>', '</3303/0/5701>'])
    await app.command('coap-node-1', { reqID: 3, msgType: 'write', data: { path: '/3311/0/5850', value: true } })
    expect((await app.up(resp)).data.code).toBe('2.04')
    await app.command('coap-node-1', { reqID: 4, msgType: 'read', data: { path: '/3311/0/5850' } })
    expect((await app.up(resp)).data.content).toEqual([{ path: '/3311/0/5850', value: true }])
    await app.command('coap-node-1', { reqID: 5, msgType: 'execute', data: { path: '/3303/0/5605' } })
    expect((await app.up(resp)).data.code).toBe('2.04')
    expect(resets).toBe(1)
    await app.command('coap-node-1', { reqID: 6, msgType: 'observe', data: { path: '/3303/0/5700' } })
    expect((await app.up(resp)).data.content).toEqual([{ path: '/3303/0/5700', value: 21.5 }])
    await call<void>((cb) => so.write(3303, 0, 5700, 30, () => cb(null, undefined)))
    const notify = await app.up('lwm2m/coap-node-1/up/notify')
    expect(notify).toMatchObject({ reqID: 6, msgType: 'notify', data: { content: [{ path: '/3303/0/5700', value: 30 }] } })

    expect((await call<{ status: string }>((cb) => node.update({ lifetime: 600 }, cb))).status).toBe('2.04')
    expect((await app.up('lwm2m/coap-node-1/up/update')).data.lt).toBe(600)
    expect((await call<{ status: string }>((cb) => node.deregister(cb))).status).toBe('2.02')
    expect(gw.gateway.devices()).toEqual([])
  })
})

describe('lwm2m-node-lib 1.4.0 as the device (text/plain resources)', () => {
  it('registers, answers read / write / execute / write-attr / observe, updates and deregisters', async () => {
    const gw = await startGateway()
    const app = await App.connect(gw)
    const client = (require('lwm2m-node-lib') as { client: LwM2MClient }).client
    client.init({ logLevel: 'FATAL', client: { lifetime: '300', version: '1.0', logLevel: 'FATAL', observe: { period: 3000 }, ipProtocol: 'udp4', serverProtocol: 'udp4', port: 0 } })
    await call<void>((cb) => client.registry.create('/3303/0', (error) => cb(error, undefined)))
    await call<void>((cb) => client.registry.setResource('/3303/0', '5700', '21.5', (error) => cb(error, undefined)))
    await call<void>((cb) => client.registry.create('/3303/1', (error) => cb(error, undefined)))
    const info = await call<DeviceInformation>((cb) => client.register('127.0.0.1', gw.udpPort, null, 'node-lib-1', cb))
    onTestFinished(() => new Promise<void>((resolve) => client.unregister(info, () => resolve())))
    expect(info.location).toMatch(/^rd\/[0-9a-f]+$/)
    expect((await app.up('lwm2m/node-lib-1/up/register')).data).toMatchObject({ ep: 'node-lib-1', lwm2m: '1.0', b: 'U', objectList: ['/3303/0', '/3303/1'] })

    const resp = 'lwm2m/node-lib-1/up/resp'
    await app.command('node-lib-1', { reqID: 1, msgType: 'read', data: { path: '/3303/0/5700' } })
    expect((await app.up(resp)).data.content).toEqual([{ path: '/3303/0/5700', value: 21.5 }])
    // It reads and writes single resources in text only.
    await app.command('node-lib-1', { reqID: 2, msgType: 'write', data: { path: '/3303/0/5701', format: 'text', value: 'Far' } })
    expect((await app.up(resp)).data.code).toBe('2.04')
    await app.command('node-lib-1', { reqID: 3, msgType: 'read', data: { path: '/3303/0/5701' } })
    expect((await app.up(resp)).data.content).toEqual([{ path: '/3303/0/5701', value: 'Far' }])
    await app.command('node-lib-1', { reqID: 4, msgType: 'execute', data: { path: '/3303/0/5605', args: '1' } })
    expect((await app.up(resp)).data.code).toBe('2.04')
    await app.command('node-lib-1', { reqID: 5, msgType: 'write-attr', data: { path: '/3303/1/5700', pmax: 60 } })
    expect((await app.up(resp)).data.code).toBe('2.04')

    await app.command('node-lib-1', { reqID: 6, msgType: 'observe', data: { path: '/3303/0/5700' } })
    expect((await app.up(resp)).data.content).toEqual([{ path: '/3303/0/5700', value: 21.5 }])
    await call<void>((cb) => client.registry.setResource('/3303/0', '5700', '25', (error) => cb(error, undefined)))
    expect(await app.up('lwm2m/node-lib-1/up/notify')).toMatchObject({ reqID: 6, msgType: 'notify', data: { content: [{ path: '/3303/0/5700', value: 25 }] } })

    await call<void>((cb) => client.update(info, (error) => cb(error, undefined)))
    expect((await app.up('lwm2m/node-lib-1/up/update')).data.objectList).toEqual(['/3303/0', '/3303/1'])
  })
})
