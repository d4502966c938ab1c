import { connectAsync } from 'mqtt'
import { WebSocket } from 'ws'
import { describe, expect, it } from 'vitest'
import { ConfigError, startServer } from '../src/index.js'

const loopback = { host: '127.0.0.1', port: 0, wsPort: 0, sysInterval: 0, logLevel: 'silent' } as const

describe('startServer', () => {
  it('reports the ports it chose and serves clients until closed', async () => {
    const server = await startServer(loopback)
    const [tcp, ws] = server.addresses
    expect(tcp).toMatchObject({ transport: 'tcp', host: '127.0.0.1', url: `mqtt://127.0.0.1:${tcp!.port}` })
    expect(ws).toMatchObject({ transport: 'ws', host: '127.0.0.1', url: `ws://127.0.0.1:${ws!.port}/mqtt` })
    expect(tcp!.port).toBeGreaterThan(0)

    const client = await connectAsync(tcp!.url, { reconnectPeriod: 0 })
    await client.subscribeAsync('host/#', { qos: 1 })
    const received = new Promise<string>((resolve) =>
      client.once('message', (_topic, payload) => resolve(payload.toString())),
    )
    await server.broker.publish({ topic: 'host/greeting', payload: 'hello from the host', qos: 1 })
    expect(await received).toBe('hello from the host')

    const closedByServer = new Promise<void>((resolve) => client.once('close', () => resolve()))
    await Promise.all([server.close(), server.close()])
    await closedByServer
    await client.endAsync(true)
    await expect(connectAsync(tcp!.url, { reconnectPeriod: 0, connectTimeout: 1000 })).rejects.toThrow(/ECONNREFUSED/)
  })

  it('chooses the mqtt or mqttv3.1 WebSocket subprotocol, and serves MQTT 3.1 clients', async () => {
    const server = await startServer({ ...loopback, port: -1 })
    try {
      const url = server.addresses[0]!.url
      const cases = [
        [['mqtt'], 'mqtt'],
        [['chat', 'mqttv3.1'], 'mqttv3.1'],
        // an offer without an MQTT subprotocol is refused at the upgrade (MQTT 5 §6.0)
        [['chat'], 'Unexpected server response: 400'],
      ] as const
      for (const [offered, outcome] of cases) {
        const ws = new WebSocket(url, [...offered])
        const seen = await new Promise<string>((resolve) => {
          ws.once('open', () => resolve(ws.protocol))
          ws.once('error', (error) => resolve(error.message))
        })
        expect({ offered, seen }).toEqual({ offered, seen: outcome })
        ws.terminate()
      }
      const v31 = await connectAsync(url, { protocolId: 'MQIsdp', protocolVersion: 3, reconnectPeriod: 0 })
      await v31.subscribeAsync('legacy/#', { qos: 1 })
      const received = new Promise<string>((resolve) => v31.once('message', (topic) => resolve(topic)))
      await server.broker.publish({ topic: 'legacy/hello', payload: 'x', qos: 1 })
      expect(await received).toBe('legacy/hello')
      await v31.endAsync()
    } finally {
      await server.close()
    }
  })

  it('checks its input like a config file', async () => {
    await expect(startServer({ ...loopback, port: 65536 })).rejects.toThrow(
      new ConfigError('config.port must be an integer from -1 to 65535, got 65536'),
    )
    await expect(startServer({ ...loopback, wsPath: 'mqtt' })).rejects.toThrow('config.wsPath must start with "/"')
  })

  it('closes what it opened when a port is taken', async () => {
    const first = await startServer({ ...loopback, port: -1 })
    try {
      await expect(startServer({ ...loopback, wsPort: first.addresses[0]!.port })).rejects.toMatchObject({
        code: 'EADDRINUSE',
      })
    } finally {
      await first.close()
    }
  })
})
