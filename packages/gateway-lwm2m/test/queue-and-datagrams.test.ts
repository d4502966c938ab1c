import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { parse } from 'coap-packet'
import { describe, expect, it } from 'vitest'
import { App, RawDevice, startGateway } from './helpers.js'

const run = promisify(execFile)

describe('queue mode (binding UQ, LwM2M 1.0 §8.3.3)', () => {
  it('case90 commands for a sleeping device are held until it next talks, then sent in order', async () => {
    const gw = await startGateway({ qmodeTimeWindow: 0.2 })
    const app = await App.connect(gw)
    const device = await RawDevice.open(gw.udpPort)
    await device.register('ep-q', ['lt=345', 'lwm2m=1.0', 'b=UQ'])
    await app.up('lwm2m/ep-q/up/register')
    // The device listens for qmodeTimeWindow after it talked: wait until the gateway says it sleeps.
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (Date.now() > (gw.gateway.devices()[0]?.lastSeen ?? 0) + 200) {
          clearInterval(timer)
          resolve()
        }
      }, 20)
    })
    await app.command('ep-q', { reqID: 1, msgType: 'read', data: { path: '/3/0/0' } })
    await app.command('ep-q', { reqID: 2, msgType: 'read', data: { path: '/3/0/1' } })
    await expect.poll(() => gw.gateway.devices()[0]?.queuedCommands).toBe(2)
    await device.requests.expectNone(100)
    expect((await device.update()).code).toBe('2.04')
    const [first, second] = await device.requests.take(2)
    expect([first?.path, second?.path]).toEqual(['/3/0/0', '/3/0/1'])
    device.respond(first!, '2.05', 'ACME', 0)
    expect((await app.up('lwm2m/ep-q/up/resp')).reqID).toBe(1)
    expect(gw.gateway.stats.commandsQueued).toBe(2)
  })

  it('holds at most maxQueuedCommands, dropping the oldest', async () => {
    const gw = await startGateway({ qmodeTimeWindow: 0, maxQueuedCommands: 2 })
    const app = await App.connect(gw)
    const device = await RawDevice.open(gw.udpPort)
    await device.register('ep-q2', ['lt=345', 'lwm2m=1.0', 'b=UQ'])
    await app.up('lwm2m/ep-q2/up/register')
    for (let i = 0; i < 3; i++) await app.command('ep-q2', { reqID: i, msgType: 'read', data: { path: `/3/0/${i}` } })
    await expect.poll(() => gw.gateway.stats.commandsQueued).toBe(3)
    expect(gw.gateway.stats.commandsDropped).toBe(1)
    await device.update()
    expect((await device.requests.take(2)).map((r) => r.path)).toEqual(['/3/0/1', '/3/0/2'])
  })
  it('a notification wakes it too: held commands follow it', async () => {
    const gw = await startGateway({ qmodeTimeWindow: 0 })
    const app = await App.connect(gw)
    const device = await RawDevice.open(gw.udpPort)
    await device.register('ep-q3', ['lt=345', 'lwm2m=1.0', 'b=UQ'])
    await app.up('lwm2m/ep-q3/up/register')
    await device.update()
    await app.command('ep-q3', { reqID: 1, msgType: 'observe', data: { path: '/3303/0/5700' } })
    await expect.poll(() => gw.gateway.stats.commandsQueued).toBe(1)
    await device.update()
    const observe = await device.requests.next()
    device.respond(observe, '2.05', '20', 0, 1)
    await app.up('lwm2m/ep-q3/up/resp')
    await app.command('ep-q3', { reqID: 2, msgType: 'read', data: { path: '/3/0/0' } })
    await expect.poll(() => gw.gateway.stats.commandsQueued).toBe(2)
    device.notify(observe, 2, '21', 0)
    await app.up('lwm2m/ep-q3/up/notify')
    expect((await device.requests.next()).path).toBe('/3/0/0')
  })
})

describe('bad datagrams', () => {
  it('are dropped and counted without an answer; other devices carry on', async () => {
    const gw = await startGateway()
    const app = await App.connect(gw)
    const good = await RawDevice.open(gw.udpPort)
    await good.register('ep-good')
    await app.up('lwm2m/ep-good/up/register')
    const bad = await RawDevice.open(gw.udpPort)
    const replies: Buffer[] = []
    bad.socket.on('message', (datagram) => replies.push(datagram))
    for (const garbage of [Buffer.from([0xff]), Buffer.from([0x40]), Buffer.from([0x84, 0x01, 0x00, 0x01]), Buffer.from([0x44, 0x01, 0x00, 0x01, 0xaa])]) bad.sendRaw(garbage)
    await expect.poll(() => gw.gateway.stats.datagramsMalformed).toBe(4)
    // A well-formed request to an unknown resource is answered (4.04), unlike garbage.
    expect((await bad.request('get', '/nothing')).code).toBe('4.04')
    expect(replies).toHaveLength(1)
    await app.command('ep-good', { reqID: 1, msgType: 'read', data: { path: '/3/0/0' } })
    good.respond(await good.requests.next(), '2.05', 'still here', 0)
    expect((await app.up('lwm2m/ep-good/up/resp')).data.content).toEqual([{ path: '/3/0/0', value: 'still here' }])
  })

  it('a retransmitted Register (same message id) is answered from the deduplication cache, not registered twice', async () => {
    const gw = await startGateway()
    const device = await RawDevice.open(gw.udpPort)
    const first = await device.request('post', '/rd', { query: ['ep=ep-dup', 'lt=345', 'lwm2m=1.0'], payload: '</3/0>', contentFormat: 40, messageId: 4242 })
    const again = await device.request('post', '/rd', { query: ['ep=ep-dup', 'lt=345', 'lwm2m=1.0'], payload: '</3/0>', contentFormat: 40, messageId: 4242 })
    expect(again.code).toBe('2.01')
    expect(again.options).toEqual(first.options)
    expect(gw.gateway.stats.registrations).toBe(1)
  })
})

describe('retransmitted Register while the broker is still deciding', () => {
  it('is not a second registration', async () => {
    let admit: () => void = () => {}
    const gate = new Promise<void>((resolve) => (admit = resolve))
    let asked = 0
    const gw = await startGateway({}, { hooks: { authenticate: async () => (asked++, await gate, true) } })
    const device = await RawDevice.open(gw.udpPort)
    const registered = device.request('post', '/rd', { query: ['ep=ep-slow', 'lt=345', 'lwm2m=1.0'], payload: '</3/0>', contentFormat: 40 })
    await expect.poll(() => asked).toBe(1)
    device.sendRaw(device.lastRequest)
    await expect.poll(() => gw.gateway.stats.datagramsReceived).toBe(2)
    admit()
    expect((await registered).code).toBe('2.01')
    expect(asked).toBe(1)
    expect(gw.gateway.stats.registrations).toBe(1)
    expect(gw.gateway.devices()).toHaveLength(1)
  })

  it('is answered when the gateway closes first, retransmission included: no reply timer fires on a closed socket later', async () => {
    let asked = 0
    const gw = await startGateway({}, { hooks: { authenticate: async () => (asked++, await new Promise<boolean>(() => {})) } })
    const device = await RawDevice.open(gw.udpPort)
    const codes: string[] = []
    device.socket.on('message', (datagram) => codes.push(parse(datagram).code))
    void device.request('post', '/rd', { query: ['ep=ep-closing', 'lt=345', 'lwm2m=1.0'], payload: '</3/0>', contentFormat: 40 })
    await expect.poll(() => asked).toBe(1)
    device.sendRaw(device.lastRequest)
    await expect.poll(() => gw.gateway.stats.datagramsReceived).toBe(2)
    gw.gateway.close()
    // An empty ACK ('0.00') may come first on a slow machine; both requests must get their 5.03 all the same.
    await expect.poll(() => codes.filter((code) => code !== '0.00')).toEqual(['5.03', '5.03'])
  })
})

describe('libcoap coap-client (raw CoAP from a third-party implementation)', () => {
  it('registers, updates and deregisters; a wrong path gets 4.04', async () => {
    const gw = await startGateway()
    const app = await App.connect(gw)
    const base = `coap://127.0.0.1:${gw.udpPort}`
    const register = await run('coap-client-notls', ['-m', 'post', '-t', '40', '-e', '</1/0>,</3/0>', '-B', '5', '-v', '7', `${base}/rd?ep=libcoap-dev&lt=300&lwm2m=1.0&b=U`])
    expect(register.stdout + register.stderr).toMatch(/c:2\.01/)
    const registration = await app.up('lwm2m/libcoap-dev/up/register')
    expect(registration.data).toMatchObject({ ep: 'libcoap-dev', lt: 300, objectList: ['/1/0', '/3/0'] })
    const location = gw.gateway.devices()[0]?.location
    const update = await run('coap-client-notls', ['-m', 'post', '-B', '5', '-v', '7', `${base}/rd/${location}?lt=120`])
    expect(update.stdout + update.stderr).toMatch(/c:2\.04/)
    expect((await app.up('lwm2m/libcoap-dev/up/update')).data.lt).toBe(120)
    const missing = await run('coap-client-notls', ['-m', 'get', '-B', '5', '-v', '7', `${base}/nowhere`])
    expect(missing.stdout + missing.stderr).toMatch(/c:4\.04/)
    const deregister = await run('coap-client-notls', ['-m', 'delete', '-B', '5', '-v', '7', `${base}/rd/${location}`])
    expect(deregister.stdout + deregister.stderr).toMatch(/c:2\.02/)
    expect(gw.gateway.devices()).toEqual([])
  })

  it('a registration payload larger than one block arrives block-wise (RFC 7959 Block1)', async () => {
    const gw = await startGateway()
    const app = await App.connect(gw)
    const links = Array.from({ length: 70 }, (_, i) => `</${3300 + i}/0>`).join(',')
    expect(links.length).toBeGreaterThan(600)
    const register = await run('coap-client-notls', ['-m', 'post', '-b', '64', '-t', '40', '-e', links, '-B', '5', '-v', '7', `coap://127.0.0.1:${gw.udpPort}/rd?ep=libcoap-big&lt=300&lwm2m=1.0`])
    expect(register.stdout + register.stderr).toMatch(/c:2\.01/)
    const registration = await app.up('lwm2m/libcoap-big/up/register')
    expect(registration.data.objectList).toHaveLength(70)
  })
})
