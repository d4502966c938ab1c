import { connect, createServer as createNetServer } from 'node:net'
import { once } from 'node:events'
import { connectAsync } from 'mqtt'
import { describe, expect, it } from 'vitest'
import { createBroker } from '@wren/core'
import { freePort } from '../../persistence-redis/test/redis-server.js'
import { createServer, ListenerError } from '../src/index.js'

describe('createServer', () => {
  it('serves a broker over TCP and WebSocket in one call, and closes its listeners', async () => {
    const broker = createBroker({ sysInterval: 0 })
    await broker.ready()
    const server = await createServer(broker, { tcp: 0, ws: { port: 0, path: '/broker' } })
    const [tcp, ws] = server.addresses
    expect(tcp).toMatchObject({ transport: 'tcp', host: '127.0.0.1', url: `mqtt://127.0.0.1:${tcp!.port}` })
    expect(ws).toMatchObject({ transport: 'ws', url: `ws://127.0.0.1:${ws!.port}/broker` })

    const subscriber = await connectAsync(ws!.url, { reconnectPeriod: 0 })
    const publisher = await connectAsync(tcp!.url, { reconnectPeriod: 0 })
    await subscriber.subscribeAsync('hello/#', { qos: 1 })
    const received = new Promise<string>((resolve) => subscriber.once('message', (topic, payload) => resolve(`${topic} ${payload}`)))
    await publisher.publishAsync('hello/ws', 'from tcp', { qos: 1 })
    expect(await received).toBe('hello/ws from tcp')

    await broker.close()
    await server.close()
    await Promise.all([subscriber.endAsync(true), publisher.endAsync(true)])
    await expect(connectAsync(tcp!.url, { reconnectPeriod: 0, connectTimeout: 1000 })).rejects.toThrow(/ECONNREFUSED/)
  })

  it('names the listener whose port is taken, and closes those it had opened', async () => {
    const taken = createNetServer().listen(0, '127.0.0.1')
    await once(taken, 'listening')
    const port = (taken.address() as { port: number }).port
    const broker = createBroker({ sysInterval: 0 })
    await broker.ready()
    const tcpPort = await freePort()
    try {
      const failure = await createServer(broker, { tcp: tcpPort, ws: { port } }).catch((error: unknown) => error)
      expect(failure).toBeInstanceOf(ListenerError)
      expect(failure).toMatchObject({ code: 'EADDRINUSE', message: `cannot listen on ws://127.0.0.1:${port}/mqtt: port ${port} is in use` })
      const refused = connect(tcpPort, '127.0.0.1')
      const [error] = (await once(refused, 'error').catch((e: unknown) => [e])) as [NodeJS.ErrnoException]
      expect(error.code).toBe('ECONNREFUSED')
    } finally {
      taken.close()
      await broker.close()
    }
  })

  it('holds at most maxConnections connections on a listener', async () => {
    const broker = createBroker({ sysInterval: 0 })
    await broker.ready()
    const server = await createServer(broker, { tcp: { port: 0, maxConnections: 1 } })
    const url = server.addresses[0]!.url
    const first = await connectAsync(url, { reconnectPeriod: 0 })
    const second = connect(server.addresses[0]!.port, '127.0.0.1')
    await once(second, 'close')
    expect(first.connected).toBe(true)
    await first.endAsync()
    await broker.close()
    await server.close()
  })

  it('names a listener for the hooks: client.meta.listener', async () => {
    const seen: unknown[] = []
    const broker = createBroker({ sysInterval: 0, hooks: { authenticate: (client) => void seen.push(client.meta.listener) } })
    await broker.ready()
    const server = await createServer(broker, { tcp: { port: 0, name: 'devices' }, ws: 0 })
    for (const { url } of server.addresses) await (await connectAsync(url, { reconnectPeriod: 0 })).endAsync()
    expect(seen).toEqual(['devices', undefined])
    await broker.close()
    await server.close()
  })

  it('needs at least one listener', async () => {
    await expect(createServer(createBroker(), {})).rejects.toThrow('createServer needs at least one of tcp, ws, tls, wss')
  })
})
