import { generate } from 'coap-packet'
import { describe, expect, it } from 'vitest'
import { encodeTlv } from '../src/index.js'
import { App, RawDevice, startGateway, type StartedGateway } from './helpers.js'

const TLV = 11542
const JSON_FORMAT = 11543

async function registered(gw: StartedGateway, endpoint: string, queryExtra: string[] = []): Promise<{ app: App; device: RawDevice; resp: string }> {
  const app = await App.connect(gw)
  const device = await RawDevice.open(gw.udpPort)
  expect((await device.register(endpoint, ['lt=345', 'lwm2m=1.0', ...queryExtra])).code).toBe('2.01')
  await app.up(`lwm2m/${endpoint}/up/register`)
  return { app, device, resp: `lwm2m/${endpoint}/up/resp` }
}

// The read, write, execute, discover, write-attr, create, delete and observe groups of EMQX's LwM2M suite.
describe('device management (LwM2M 1.0 §5.4) through MQTT JSON commands', () => {
  it('case10 read a resource in text/plain; the response echoes reqID, requestID and cacheID', async () => {
    const gw = await startGateway()
    const { app, device, resp } = await registered(gw, 'ep-read')
    await app.command('ep-read', { reqID: 7, requestID: 206, cacheID: 206, msgType: 'read', data: { path: '/3/0/0' } })
    const request = await device.requests.next()
    expect([request.packet.code, request.path, request.packet.payload.length]).toEqual(['0.01', '/3/0/0', 0])
    device.respond(request, '2.05', 'EMQ', 0)
    expect(await app.up(resp)).toEqual({
      reqID: 7,
      requestID: 206,
      cacheID: 206,
      msgType: 'read',
      data: { reqPath: '/3/0/0', code: '2.05', codeMsg: 'content', content: [{ path: '/3/0/0', value: 'EMQ' }] },
    })
  })

  it('case11 read an object instance in TLV and in OMA JSON, typed by the core object definitions', async () => {
    const gw = await startGateway()
    const { app, device, resp } = await registered(gw, 'ep-tlv')
    await app.command('ep-tlv', { reqID: 1, msgType: 'read', data: { path: '/3/0' } })
    const tlvRead = await device.requests.next()
    const battery = Buffer.from([87])
    const payload = encodeTlv([
      { kind: 'resource', id: 0, value: Buffer.from('Open Mobile Alliance') },
      { kind: 'multipleResource', id: 6, children: [{ kind: 'resourceInstance', id: 0, value: Buffer.from([1]) }, { kind: 'resourceInstance', id: 1, value: Buffer.from([5]) }] },
      { kind: 'resource', id: 9, value: battery },
      { kind: 'resource', id: 13, value: Buffer.from([0x5f, 0x5e, 0x10, 0x00]) },
    ])
    device.respond(tlvRead, '2.05', payload, TLV)
    expect((await app.up(resp)).data.content).toEqual([
      { path: '/3/0/0', value: 'Open Mobile Alliance' },
      { path: '/3/0/6/0', value: 1 },
      { path: '/3/0/6/1', value: 5 },
      { path: '/3/0/9', value: 87 },
      { path: '/3/0/13', value: 0x5f5e1000 },
    ])
    await app.command('ep-tlv', { reqID: 2, msgType: 'read', data: { path: '/3/0', accept: 'json' } })
    const jsonRead = await device.requests.next()
    expect(jsonRead.accept).toBe(JSON_FORMAT)
    device.respond(jsonRead, '2.05', JSON.stringify({ bn: '/3/0/', e: [{ n: '0', sv: 'ACME' }, { n: '9', v: 87 }, { n: '6/0', v: 1 }] }), JSON_FORMAT)
    expect((await app.up(resp)).data.content).toEqual([
      { path: '/3/0/0', value: 'ACME' },
      { path: '/3/0/9', value: 87 },
      { path: '/3/0/6/0', value: 1 },
    ])
  })

  it('case12 read opaque as base64; case13 read an object with no definition (untyped TLV values as base64)', async () => {
    const gw = await startGateway()
    const { app, device, resp } = await registered(gw, 'ep-opaque')
    await app.command('ep-opaque', { reqID: 3, msgType: 'read', data: { path: '/5/0/0', accept: 'opaque' } })
    const read = await device.requests.next()
    expect(read.accept).toBe(42)
    device.respond(read, '2.05', Buffer.from([0xde, 0xad, 0xbe, 0xef]), 42)
    expect((await app.up(resp)).data.content).toEqual([{ path: '/5/0/0', value: '3q2+7w==' }])
    await app.command('ep-opaque', { reqID: 4, msgType: 'read', data: { path: '/19999/0/1' } })
    const unknown = await device.requests.next()
    device.respond(unknown, '2.05', encodeTlv([{ kind: 'resource', id: 1, value: Buffer.from('hi') }]), TLV)
    expect((await app.up(resp)).data.content).toEqual([{ path: '/19999/0/1', value: 'aGk=' }])
  })

  it('case17/18/19 invalid TLV or text for an instance path is a 4.00; device error codes are passed on by name', async () => {
    const gw = await startGateway()
    const { app, device, resp } = await registered(gw, 'ep-err')
    await app.command('ep-err', { reqID: 5, msgType: 'read', data: { path: '/3/0' } })
    device.respond(await device.requests.next(), '2.05', Buffer.from([0xc8, 0x00, 0x05, 0x41]), TLV)
    expect((await app.up(resp)).data).toEqual({ reqPath: '/3/0', code: '4.00', codeMsg: 'bad_request' })
    await app.command('ep-err', { reqID: 6, msgType: 'read', data: { path: '/3' } })
    device.respond(await device.requests.next(), '2.05', '1', 0)
    expect((await app.up(resp)).data).toEqual({ reqPath: '/3', code: '4.00', codeMsg: 'bad_request' })
    for (const [code, name] of [['4.04', 'not_found'], ['4.05', 'method_not_allowed'], ['4.01', 'unauthorized'], ['5.00', 'internal_server_error']]) {
      await app.command('ep-err', { reqID: code, msgType: 'read', data: { path: '/3/0/0' } })
      device.respond(await device.requests.next(), code as string)
      expect((await app.up(resp)).data).toEqual({ reqPath: '/3/0/0', code, codeMsg: name })
    }
  })

  it('case20 write one resource (PUT, TLV typed by the definitions), case21 write several (POST partial update), case22 a failed write', async () => {
    const gw = await startGateway()
    const { app, device, resp } = await registered(gw, 'ep-write')
    await app.command('ep-write', { reqID: 10, msgType: 'write', data: { path: '/3/0/13', type: 'Time', value: 1700000000 } })
    const single = await device.requests.next()
    expect([single.packet.code, single.path, single.contentFormat]).toEqual(['0.03', '/3/0/13', TLV])
    expect(single.packet.payload.equals(encodeTlv([{ kind: 'resource', id: 13, value: Buffer.from([0x65, 0x53, 0xf1, 0x00]) }]))).toBe(true)
    device.respond(single, '2.04')
    expect(await app.up(resp)).toEqual({ reqID: 10, msgType: 'write', data: { reqPath: '/3/0/13', code: '2.04', codeMsg: 'changed' } })

    await app.command('ep-write', { reqID: 11, msgType: 'write', data: { basePath: '/3311/0', content: [{ path: '5850', value: true }, { path: '5851', value: 40 }, { path: '5706', value: 'red' }] } })
    const multi = await device.requests.next()
    expect([multi.packet.code, multi.path]).toEqual(['0.02', '/3311/0'])
    const written = encodeTlv([
      { kind: 'resource', id: 5850, value: Buffer.from([1]) },
      { kind: 'resource', id: 5851, value: Buffer.from([40]) },
      { kind: 'resource', id: 5706, value: Buffer.from('red') },
    ])
    expect(multi.packet.payload.equals(written)).toBe(true)
    device.respond(multi, '2.04')
    expect((await app.up(resp)).data.code).toBe('2.04')

    await app.command('ep-write', { reqID: 12, msgType: 'write', data: { path: '/3/0/1', value: 'x' } })
    device.respond(await device.requests.next(), '4.05')
    expect((await app.up(resp)).data).toEqual({ reqPath: '/3/0/1', code: '4.05', codeMsg: 'method_not_allowed' })
  })

  it('writes in every content format: whole instance replaced (PUT) in JSON, one resource in text, opaque from base64', async () => {
    const gw = await startGateway()
    const { app, device, resp } = await registered(gw, 'ep-formats')
    await app.command('ep-formats', { reqID: 1, msgType: 'write', data: { basePath: '/3303/0', mode: 'replace', format: 'json', content: [{ path: '5700', value: 21.5 }, { path: '5701', value: 'Cel' }] } })
    const json = await device.requests.next()
    expect([json.packet.code, json.contentFormat]).toEqual(['0.03', JSON_FORMAT])
    expect(JSON.parse(json.packet.payload.toString())).toEqual({ bn: '/3303/0/', e: [{ n: '5700', v: 21.5 }, { n: '5701', sv: 'Cel' }] })
    device.respond(json, '2.04')
    await app.up(resp)
    await app.command('ep-formats', { reqID: 2, msgType: 'write', data: { path: '/3311/0/5850', format: 'text', value: false } })
    const text = await device.requests.next()
    expect([text.contentFormat, text.packet.payload.toString()]).toEqual([0, '0'])
    device.respond(text, '2.04')
    await app.up(resp)
    await app.command('ep-formats', { reqID: 3, msgType: 'write', data: { path: '/5/0/0', format: 'opaque', value: '3q2+7w==' } })
    const opaque = await device.requests.next()
    expect(opaque.contentFormat).toBe(42)
    expect(opaque.packet.payload.equals(Buffer.from([0xde, 0xad, 0xbe, 0xef]))).toBe(true)
    device.respond(opaque, '2.04')
    expect((await app.up(resp)).data.code).toBe('2.04')
  })

  it('case30/31 execute with arguments; an error from the device', async () => {
    const gw = await startGateway()
    const { app, device, resp } = await registered(gw, 'ep-exec')
    await app.command('ep-exec', { reqID: 20, msgType: 'execute', data: { path: '/3/0/4', args: "0='x'" } })
    const execute = await device.requests.next()
    expect([execute.packet.code, execute.path, execute.packet.payload.toString()]).toEqual(['0.02', '/3/0/4', "0='x'"])
    device.respond(execute, '2.04')
    expect(await app.up(resp)).toEqual({ reqID: 20, msgType: 'execute', data: { reqPath: '/3/0/4', code: '2.04', codeMsg: 'changed' } })
    await app.command('ep-exec', { reqID: 21, msgType: 'execute', data: { path: '/3/0/4' } })
    device.respond(await device.requests.next(), '4.04')
    expect((await app.up(resp)).data.codeMsg).toBe('not_found')
  })

  it('case40/41 discover returns the links; case50/51 write-attributes sends them as the query', async () => {
    const gw = await startGateway()
    const { app, device, resp } = await registered(gw, 'ep-disc')
    await app.command('ep-disc', { reqID: 30, msgType: 'discover', data: { path: '/3/0' } })
    const discover = await device.requests.next()
    expect([discover.packet.code, discover.accept]).toEqual(['0.01', 40])
    device.respond(discover, '2.05', '</3/0>;pmin=10,</3/0/0>,</3/0/9>;gt="50"', 40)
    expect((await app.up(resp)).data).toEqual({ reqPath: '/3/0', code: '2.05', codeMsg: 'content', content: ['</3/0>;pmin=10', '</3/0/0>', '</3/0/9>;gt="50"'] })
    await app.command('ep-disc', { reqID: 31, msgType: 'discover', data: { path: '/9' } })
    device.respond(await device.requests.next(), '4.04')
    expect((await app.up(resp)).data.code).toBe('4.04')

    await app.command('ep-disc', { reqID: 32, msgType: 'write-attr', data: { path: '/3/0/9', pmin: '1', pmax: 5, lt: 5, gt: 50, st: 1 } })
    const attributes = await device.requests.next()
    expect([attributes.packet.code, attributes.path, attributes.query]).toEqual(['0.03', '/3/0/9', ['pmin=1', 'pmax=5', 'gt=50', 'lt=5', 'st=1']])
    device.respond(attributes, '2.04')
    expect((await app.up(resp)).data).toEqual({ reqPath: '/3/0/9', code: '2.04', codeMsg: 'changed' })
    await app.command('ep-disc', { reqID: 33, msgType: 'write-attr', data: { path: '/3/0/9', pmin: 50 } })
    device.respond(await device.requests.next(), '4.00')
    expect((await app.up(resp)).data.codeMsg).toBe('bad_request')
  })

  it('create (POST on the object) and delete an instance', async () => {
    const gw = await startGateway()
    const { app, device, resp } = await registered(gw, 'ep-create')
    await app.command('ep-create', { reqID: 40, msgType: 'create', data: { path: '/3303', content: [{ path: '5700', value: 20.5 }, { path: '5701', value: 'Cel' }] } })
    const create = await device.requests.next()
    expect([create.packet.code, create.path, create.contentFormat]).toEqual(['0.02', '/3303', TLV])
    const value = Buffer.alloc(8)
    value.writeDoubleBE(20.5)
    expect(create.packet.payload.equals(encodeTlv([{ kind: 'resource', id: 5700, value }, { kind: 'resource', id: 5701, value: Buffer.from('Cel') }]))).toBe(true)
    device.respond(create, '2.01')
    expect(await app.up(resp)).toEqual({ reqID: 40, msgType: 'create', data: { reqPath: '/3303', code: '2.01', codeMsg: 'created' } })
    await app.command('ep-create', { reqID: 41, msgType: 'create', data: { path: '/3303', content: [{ path: '2/5701', value: 'Far' }] } })
    const named = await device.requests.next()
    expect(named.packet.payload.equals(encodeTlv([{ kind: 'objectInstance', id: 2, children: [{ kind: 'resource', id: 5701, value: Buffer.from('Far') }] }]))).toBe(true)
    device.respond(named, '2.01')
    await app.up(resp)
    await app.command('ep-create', { reqID: 42, msgType: 'delete', data: { path: '/3303/2' } })
    const remove = await device.requests.next()
    expect([remove.packet.code, remove.path]).toEqual(['0.04', '/3303/2'])
    device.respond(remove, '2.02')
    expect((await app.up(resp)).data).toEqual({ reqPath: '/3303/2', code: '2.02', codeMsg: 'deleted' })
  })

  it('case60 observe: first response on up/resp, notifications on up/notify with seqNum, cancel-observe stops them', async () => {
    const gw = await startGateway()
    const { app, device, resp } = await registered(gw, 'ep-obs')
    await app.command('ep-obs', { reqID: 50, msgType: 'observe', data: { path: '/3303/0/5700' } })
    const observe = await device.requests.next()
    expect([observe.packet.code, observe.observe]).toEqual(['0.01', 0])
    device.respond(observe, '2.05', '20.5', 0, 1)
    expect(await app.up(resp)).toEqual({ reqID: 50, msgType: 'observe', data: { reqPath: '/3303/0/5700', code: '2.05', codeMsg: 'content', content: [{ path: '/3303/0/5700', value: 20.5 }] } })
    device.notify(observe, 2, '21.25', 0)
    expect(await app.up('lwm2m/ep-obs/up/notify')).toEqual({
      reqID: 50,
      msgType: 'notify',
      seqNum: 2,
      data: { reqPath: '/3303/0/5700', code: '2.05', codeMsg: 'content', content: [{ path: '/3303/0/5700', value: 21.25 }] },
    })
    device.notify(observe, 3, encodeTlv([{ kind: 'resource', id: 5700, value: Buffer.from([0x41, 0xb0, 0, 0]) }]), TLV)
    expect((await app.up('lwm2m/ep-obs/up/notify')).data.content).toEqual([{ path: '/3303/0/5700', value: 22 }])
    expect(gw.gateway.devices()[0]?.observations).toBe(1)

    await app.command('ep-obs', { reqID: 51, msgType: 'cancel-observe', data: { path: '/3303/0/5700' } })
    const cancel = await device.requests.next()
    expect([cancel.packet.code, cancel.observe, cancel.path]).toEqual(['0.01', 1, '/3303/0/5700'])
    device.respond(cancel, '2.05', '22', 0)
    expect((await app.up(resp)).msgType).toBe('cancel-observe')
    expect(gw.gateway.devices()[0]?.observations).toBe(0)
    expect(gw.gateway.stats.notifications).toBe(2)
  })

  it('case61 an observe the device refuses is reported and not kept', async () => {
    const gw = await startGateway()
    const { app, device, resp } = await registered(gw, 'ep-obs-err')
    await app.command('ep-obs-err', { reqID: 60, msgType: 'observe', data: { path: '/3/0/99' } })
    device.respond(await device.requests.next(), '4.04')
    expect((await app.up(resp)).data).toEqual({ reqPath: '/3/0/99', code: '4.04', codeMsg: 'not_found' })
    expect(gw.gateway.devices()[0]?.observations).toBe(0)
  })

  it('case64 a device that answers with a CoAP Reset: the response says reset; an observe it resets is not kept', async () => {
    const gw = await startGateway()
    const { app, device, resp } = await registered(gw, 'ep-rst')
    const reset = (request: { packet: { messageId: number } }) => device.sendRaw(generate({ code: '0.00', messageId: request.packet.messageId, reset: true }))
    await app.command('ep-rst', { reqID: 90, msgType: 'read', data: { path: '/3/0/0' } })
    reset(await device.requests.next())
    expect(await app.up(resp)).toEqual({ reqID: 90, msgType: 'read', data: { reqPath: '/3/0/0', code: '0.00', codeMsg: 'reset' } })
    await app.command('ep-rst', { reqID: 91, msgType: 'observe', data: { path: '/3/0/9' } })
    reset(await device.requests.next())
    expect((await app.up(resp)).data).toEqual({ reqPath: '/3/0/9', code: '0.00', codeMsg: 'reset' })
    expect(gw.gateway.devices()[0]?.observations).toBe(0)
  })

  it('bad commands (not JSON, unknown msgType, bad path) get a 4.00 response and nothing reaches the device', async () => {
    const gw = await startGateway()
    const { app, device, resp } = await registered(gw, 'ep-bad')
    await app.mqtt.client.publishAsync('lwm2m/ep-bad/dn', 'not json')
    expect((await app.up(resp)).data).toMatchObject({ code: '4.00', codeMsg: 'bad_request' })
    await app.command('ep-bad', { reqID: 1, msgType: 'reboot', data: { path: '/3/0/4' } })
    expect(await app.up(resp)).toMatchObject({ reqID: 1, msgType: 'reboot', data: { code: '4.00' } })
    await app.command('ep-bad', { reqID: 2, msgType: 'read', data: { path: '/a/b' } })
    expect(await app.up(resp)).toMatchObject({ reqID: 2, data: { code: '4.00' } })
    await device.requests.expectNone(100)
    expect(gw.gateway.stats.commandsRejected).toBe(3)
  })

  it('a device that does not answer gets a 5.04 response after requestTimeout', async () => {
    const gw = await startGateway({ requestTimeout: 300 })
    const { app, device, resp } = await registered(gw, 'ep-silent')
    await app.command('ep-silent', { reqID: 70, msgType: 'read', data: { path: '/3/0/0' } })
    await device.requests.next()
    expect(await app.up(resp)).toEqual({ reqID: 70, msgType: 'read', data: { reqPath: '/3/0/0', code: '5.04', codeMsg: 'gateway_timeout' } })
    expect(gw.gateway.stats.commandsTimedOut).toBe(1)
  })

  it('a large response arrives block-wise (RFC 7959 Block2): the gateway asks for every block and publishes the whole', async () => {
    const gw = await startGateway()
    const { app, device, resp } = await registered(gw, 'ep-block2')
    const firmware = Buffer.from(Array.from({ length: 150 }, (_, i) => i))
    await app.command('ep-block2', { reqID: 80, msgType: 'read', data: { path: '/5/0/0', accept: 'opaque' } })
    for (let num = 0; num * 64 < firmware.length; num++) {
      const request = await device.requests.next()
      expect(request.path).toBe('/5/0/0')
      const more = (num + 1) * 64 < firmware.length
      device.sendRaw(
        generate({
          code: '2.05',
          messageId: request.packet.messageId,
          token: request.packet.token,
          ack: true,
          options: [
            { name: 'Content-Format', value: Buffer.from([42]) },
            { name: 'Block2', value: Buffer.from([(num << 4) | (more ? 0x08 : 0) | 2]) },
          ],
          payload: firmware.subarray(num * 64, (num + 1) * 64),
        }),
      )
    }
    expect((await app.up(resp)).data.content).toEqual([{ path: '/5/0/0', value: firmware.toString('base64') }])
  })

  it('a large write goes block-wise (RFC 7959 Block1, 1024-byte blocks) and the device gets the whole', async () => {
    const gw = await startGateway()
    const { app, device, resp } = await registered(gw, 'ep-block1')
    const firmware = Buffer.from(Array.from({ length: 2500 }, (_, i) => i % 251))
    await app.command('ep-block1', { reqID: 81, msgType: 'write', data: { path: '/5/0/0', format: 'opaque', value: firmware.toString('base64') } })
    const parts: Buffer[] = []
    for (;;) {
      const request = await device.requests.next()
      const block1 = request.packet.options.find((o) => o.name === 'Block1')?.value
      expect(block1).toBeDefined()
      parts.push(request.packet.payload)
      const more = ((block1 as Buffer)[(block1 as Buffer).length - 1]! & 0x08) !== 0
      device.sendRaw(
        generate({ code: more ? '2.31' : '2.04', messageId: request.packet.messageId, token: request.packet.token, ack: true, options: [{ name: 'Block1', value: block1 as Buffer }] }),
      )
      if (!more) break
    }
    expect(parts.map((p) => p.length)).toEqual([1024, 1024, 452])
    expect(Buffer.concat(parts).equals(firmware)).toBe(true)
    expect((await app.up(resp)).data).toEqual({ reqPath: '/5/0/0', code: '2.04', codeMsg: 'changed' })
  })
})
