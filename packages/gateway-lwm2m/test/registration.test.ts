import { describe, expect, it } from 'vitest'
import { App, locationOf, RawDevice, startGateway } from './helpers.js'

// The register group of EMQX's LwM2M suite (emqx_lwm2m_SUITE test_grp_0_register), as our own cases.
describe('registration interface (LwM2M 1.0 §5.3)', () => {
  it('case01 register: 2.01 with a Location-Path, the endpoint becomes a broker session, up/register published', async () => {
    const gw = await startGateway()
    const app = await App.connect(gw)
    const device = await RawDevice.open(gw.udpPort)
    const response = await device.register('urn:oma:lwm2m:oma:3', ['lt=345', 'lwm2m=1.0'], '</1>, </2>, </3>, </4>, </5>')
    expect(response.code).toBe('2.01')
    expect(locationOf(response)[0]).toBe('rd')
    expect(locationOf(response)).toHaveLength(2)
    const register = await app.up('lwm2m/urn:oma:lwm2m:oma:3/up/register')
    expect(register).toEqual({
      msgType: 'register',
      data: { ep: 'urn:oma:lwm2m:oma:3', lt: 345, lwm2m: '1.0', b: 'U', alternatePath: '/', objectList: ['/1', '/2', '/3', '/4', '/5'] },
    })
    const client = gw.broker.clients().find((c) => c.id === 'urn:oma:lwm2m:oma:3')
    expect(client?.meta.transport).toBe('lwm2m')
    expect(gw.gateway.devices().map((d) => d.endpoint)).toEqual(['urn:oma:lwm2m:oma:3'])
  })

  it('case02 update and deregister: 2.04 and up/update with the new lifetime and object list, 2.02 ends the session', async () => {
    const gw = await startGateway()
    const app = await App.connect(gw)
    const device = await RawDevice.open(gw.udpPort)
    await device.register('ep-update')
    await app.up('lwm2m/ep-update/up/register')
    expect((await device.update(['lt=600'], '</1/0>,</3/0>,</6/0>')).code).toBe('2.04')
    const update = await app.up('lwm2m/ep-update/up/update')
    expect(update.msgType).toBe('update')
    expect(update.data).toMatchObject({ ep: 'ep-update', lt: 600, objectList: ['/1/0', '/3/0', '/6/0'] })
    expect((await device.update()).code).toBe('2.04')
    expect((await app.up('lwm2m/ep-update/up/update')).data.lt).toBe(600)
    expect((await device.deregister()).code).toBe('2.02')
    expect(gw.gateway.devices()).toEqual([])
    expect((await device.update()).code).toBe('4.04')
    expect(gw.gateway.stats).toMatchObject({ registrations: 1, updates: 2, deregistrations: 1 })
  })

  it('case01 additional query parameters (credentials among them) are accepted and not published', async () => {
    const gw = await startGateway()
    const app = await App.connect(gw)
    const device = await RawDevice.open(gw.udpPort)
    const query = ['lt=345', 'lwm2m=1.0', 'apn=psmA.eDRX0.ctnb', 'imei=123', 'password=public', 'access_token=token']
    expect((await device.register('ep-extra', query, '</3/0>')).code).toBe('2.01')
    expect((await app.up('lwm2m/ep-extra/up/register')).data).toEqual({ ep: 'ep-extra', lt: 345, lwm2m: '1.0', b: 'U', alternatePath: '/', objectList: ['/3/0'] })
  })

  it('case03 wrong or missing LwM2M version: 4.00 Bad Request, no session', async () => {
    const gw = await startGateway()
    const device = await RawDevice.open(gw.udpPort)
    expect((await device.register('ep-v', ['lt=345', 'lwm2m=8.3'])).code).toBe('4.00')
    expect((await device.register('ep-v', ['lt=345'])).code).toBe('4.00')
    expect((await device.register('ep-v11', ['lt=345', 'lwm2m=1.1'])).code).toBe('2.01')
    expect(gw.broker.clients().map((c) => c.id)).toEqual(['ep-v11'])
  })

  it('case04 lifetime expiry drops the device and publishes up/lost', async () => {
    const gw = await startGateway()
    const app = await App.connect(gw)
    const device = await RawDevice.open(gw.udpPort)
    await device.register('ep-lt', ['lt=1', 'lwm2m=1.0'])
    await app.up('lwm2m/ep-lt/up/register')
    const lost = await app.up('lwm2m/ep-lt/up/lost', 5000)
    expect(lost).toMatchObject({ msgType: 'lost', data: { ep: 'ep-lt', reason: 'lifetime expired' } })
    expect(gw.gateway.devices()).toEqual([])
    expect(gw.gateway.stats.expirations).toBe(1)
    expect((await device.update()).code).toBe('4.04')
  })

  it('case05 missing endpoint name: 4.00; an endpoint outside the allowed list: 4.03', async () => {
    const gw = await startGateway({ endpoints: ['known-1'] })
    const device = await RawDevice.open(gw.udpPort)
    expect((await device.request('post', '/rd', { query: ['lt=345', 'lwm2m=1.0'], payload: '</3/0>', contentFormat: 40 })).code).toBe('4.00')
    expect((await device.register('stranger')).code).toBe('4.03')
    expect((await device.register('known-1')).code).toBe('2.01')
    expect(gw.gateway.stats.registrationsRejected).toBe(2)
  })

  it('case06 a lifetime outside lifetimeMin..lifetimeMax is brought within it', async () => {
    const gw = await startGateway({ lifetimeMin: 10, lifetimeMax: 100 })
    const app = await App.connect(gw)
    const device = await RawDevice.open(gw.udpPort)
    await device.register('ep-clamp', ['lt=5000', 'lwm2m=1.0'])
    expect((await app.up('lwm2m/ep-clamp/up/register')).data.lt).toBe(100)
  })

  it('case07 alternate path: objects listed below rt="oma.lwm2m" are reported without it and addressed with it', async () => {
    const gw = await startGateway()
    const app = await App.connect(gw)
    const device = await RawDevice.open(gw.udpPort)
    await device.register('ep-alt', ['lt=345', 'lwm2m=1.0'], '</lwm2m>;rt="oma.lwm2m";ct=11543,</lwm2m/1/0>,</lwm2m/3/0>')
    const register = await app.up('lwm2m/ep-alt/up/register')
    expect(register.data).toMatchObject({ alternatePath: '/lwm2m', objectList: ['/1/0', '/3/0'] })
    await app.command('ep-alt', { reqID: 1, msgType: 'read', data: { path: '/3/0/0' } })
    const request = await device.requests.next()
    expect(request.path).toBe('/lwm2m/3/0/0')
  })

  it('case08 registering again replaces the old registration (new location, old one gone)', async () => {
    const gw = await startGateway()
    const app = await App.connect(gw)
    const device = await RawDevice.open(gw.udpPort)
    await device.register('ep-re')
    const first = device.location
    await app.up('lwm2m/ep-re/up/register')
    await device.register('ep-re')
    await app.up('lwm2m/ep-re/up/register')
    expect(device.location).not.toBe(first)
    expect(gw.gateway.devices().map((d) => d.location)).toEqual([device.location])
    expect(gw.broker.clients().filter((c) => c.id === 'ep-re')).toHaveLength(1)
    expect((await device.request('post', `/rd/${first}`)).code).toBe('4.04')
  })

  it('case09 auto observe: every object instance listed (but 0 and 1) is observed at registration', async () => {
    const gw = await startGateway({ autoObserve: true })
    const device = await RawDevice.open(gw.udpPort)
    await device.register('ep-auto', ['lt=345', 'lwm2m=1.0'], '</1/0>,</3/0>,</3303/0>')
    const observed = await device.requests.take(2)
    expect(observed.map((r) => [r.path, r.observe]).sort()).toEqual([['/3/0', 0], ['/3303/0', 0]])
  })

  it('case09 auto observe list: only the listed paths the device registered are observed', async () => {
    const gw = await startGateway({ autoObserve: ['/3/0', '/5/0', '/3303'] })
    const device = await RawDevice.open(gw.udpPort)
    await device.register('ep-auto-list', ['lt=345', 'lwm2m=1.0'], '</1/0>,</3/0>,</3303/0>')
    const observed = await device.requests.take(2)
    expect(observed.map((r) => [r.path, r.observe]).sort()).toEqual([['/3/0', 0], ['/3303', 0]])
    await device.requests.expectNone(100)
  })

  it('the broker hooks see the endpoint as the client id and can refuse it, or its command topic (4.03)', async () => {
    const seen: Array<[string, unknown]> = []
    const gw = await startGateway(
      {},
      {
        hooks: {
          authenticate: (client) => {
            seen.push([client.id, client.meta.transport])
            return client.id !== 'banned'
          },
          authorizeSubscribe: (client, subscription) => subscription.filter.startsWith(`lwm2m/${client.id}/`) && client.id !== 'no-commands',
        },
      },
    )
    const device = await RawDevice.open(gw.udpPort)
    expect((await device.register('banned')).code).toBe('4.03')
    expect((await device.register('no-commands')).code).toBe('4.03')
    expect((await device.register('fine')).code).toBe('2.01')
    expect(seen).toEqual([['banned', 'lwm2m'], ['no-commands', 'lwm2m'], ['fine', 'lwm2m']])
    expect(gw.broker.clients().map((c) => c.id)).toEqual(['fine'])
    expect(gw.gateway.stats.registrationsRejected).toBe(2)
  })

  it('counts devices and traffic under $SYS/broker/lwm2m/', async () => {
    const gw = await startGateway({ sysInterval: 1 })
    const app = await App.connect(gw, '$SYS/broker/lwm2m/#')
    const device = await RawDevice.open(gw.udpPort)
    await device.register('ep-sys')
    await app.mqtt.inbox.next((m) => m.topic === '$SYS/broker/lwm2m/devices/registered' && m.payload.toString() === '1', 5000)
    expect(gw.gateway.devices()[0]).toMatchObject({ endpoint: 'ep-sys', binding: 'U', lifetime: 345, observations: 0, queuedCommands: 0 })
  })

  it('reports to observability as the gateway component "lwm2m" while it runs', async () => {
    const gw = await startGateway()
    const device = await RawDevice.open(gw.udpPort)
    await device.register('ep-metrics')
    const [component] = gw.broker.admin.components('gateway')
    expect(component?.name).toBe('lwm2m')
    const snapshot = component!.snapshot()
    expect(snapshot).toMatchObject({ up: true, state: 'listening', values: { devices_registered: 1, registrations: 1, datagrams_received: 1 } })
    expect(Object.keys(snapshot.values).sort()).toEqual(component!.metrics.map((m) => m.name).sort())
    expect(snapshot.details).toMatchObject({ address: `127.0.0.1:${gw.udpPort}`, devicesInQueueMode: 0 })
    gw.gateway.close()
    expect(gw.broker.admin.components('gateway')).toEqual([])
  })
})
