import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClientInfo, Credentials } from '@wren/core'
import { connect, connectAsync, type IClientOptions, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type RunningServer } from '../src/index.js'
import { makeCertificates, type Certificates } from './helpers/certificates.js'
import { startWren } from './helpers/wren-process.js'

let dir: string
let certs: Certificates

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wren-tls-'))
  certs = makeCertificates(dir)
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const quiet = { host: '127.0.0.1', port: -1, wsPort: -1, sysInterval: 0, logLevel: 'silent' } as const

function urlOf(server: RunningServer, transport: string): string {
  const address = server.addresses.find((candidate) => candidate.transport === transport)
  if (!address) throw new Error(`no ${transport} listener`)
  return address.url
}

function trusting(extra: IClientOptions = {}): IClientOptions {
  return { ca: readFileSync(certs.ca), rejectUnauthorized: true, reconnectPeriod: 0, connectTimeout: 5000, ...extra }
}

/** Whether a client gets in; a refused TLS handshake may end in a plain close rather than an error. */
function attempt(url: string, options: IClientOptions): Promise<'connected' | 'refused'> {
  const client = connect(url, options)
  return new Promise<'connected' | 'refused'>((resolve) => {
    client.once('connect', () => resolve('connected'))
    client.once('error', () => resolve('refused'))
    client.once('close', () => resolve('refused'))
  }).finally(() => client.endAsync(true))
}

function nextMessage(client: MqttClient): Promise<string> {
  return new Promise((resolve) => client.once('message', (topic, payload) => resolve(`${topic} ${payload}`)))
}

describe('TLS listeners', () => {
  it('serve MQTT over TLS and over secure WebSocket', async () => {
    const server = await startServer({
      ...quiet,
      tlsPort: 0,
      wssPort: 0,
      cert: certs.serverCert,
      key: certs.serverKey,
    })
    try {
      expect(server.addresses.map((address) => address.transport)).toEqual(['tls', 'wss'])
      expect(urlOf(server, 'tls')).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/)
      expect(urlOf(server, 'wss')).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/mqtt$/)

      const overTls = await connectAsync(urlOf(server, 'tls'), trusting())
      const overWss = await connectAsync(urlOf(server, 'wss'), trusting({ protocolVersion: 5 }))
      await overWss.subscribeAsync('secure/#', { qos: 1 })
      const received = nextMessage(overWss)
      await overTls.publishAsync('secure/a', 'sealed', { qos: 1 })
      expect(await received).toBe('secure/a sealed')
      await Promise.all([overTls.endAsync(), overWss.endAsync()])
    } finally {
      await server.close()
    }
  })

  it('requiring client certificates, admits only clients whose certificate the CA signed, and shows it to the hooks', async () => {
    const seen: Array<{ transport: unknown; subject: unknown }> = []
    const server = await startServer(
      { ...quiet, tlsPort: 0, wssPort: 0, cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requireClientCert: true },
      {
        hooks: {
          authenticate(client: ClientInfo, credentials: Credentials) {
            seen.push({ transport: client.meta.transport, subject: credentials.certificate?.subject.CN })
            return true
          },
        },
      },
    )
    try {
      const withCert = { cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) }
      for (const transport of ['tls', 'wss']) {
        const client = await connectAsync(urlOf(server, transport), trusting(withCert))
        await client.endAsync()
      }
      expect(seen).toEqual([
        { transport: 'tls', subject: 'sensor-1' },
        { transport: 'wss', subject: 'sensor-1' },
      ])

      expect(await attempt(urlOf(server, 'tls'), trusting())).toBe('refused')
      const stranger = { cert: readFileSync(certs.strangerCert), key: readFileSync(certs.strangerKey) }
      expect(await attempt(urlOf(server, 'tls'), trusting(stranger))).toBe('refused')
      expect(await attempt(urlOf(server, 'wss'), trusting(stranger))).toBe('refused')
      expect(seen).toHaveLength(2)
    } finally {
      await server.close()
    }
  })

  it('with a CA but not requiring certificates, admits everyone and shows the hooks only verified certificates', async () => {
    const seen: unknown[] = []
    const server = await startServer(
      { ...quiet, tlsPort: 0, cert: certs.serverCert, key: certs.serverKey, ca: certs.ca },
      {
        hooks: {
          authenticate(_client: ClientInfo, credentials: Credentials) {
            seen.push(credentials.certificate?.subject.CN ?? null)
            return true
          },
        },
      },
    )
    try {
      const url = urlOf(server, 'tls')
      const withCert = { cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) }
      const stranger = { cert: readFileSync(certs.strangerCert), key: readFileSync(certs.strangerKey) }
      for (const options of [withCert, {}, stranger]) expect(await attempt(url, trusting(options))).toBe('connected')
      expect(seen).toEqual(['sensor-1', null, null])
    } finally {
      await server.close()
    }
  })

  it('refuses to start without usable certificate files', async () => {
    await expect(startServer({ ...quiet, tlsPort: 0 })).rejects.toThrow('tlsPort and wssPort need cert and key')
    await expect(
      startServer({ ...quiet, tlsPort: 0, cert: certs.serverCert, key: join(dir, 'nope.key') }),
    ).rejects.toThrow(`cannot read key file ${join(dir, 'nope.key')}: no such file`)
    await expect(
      startServer({ ...quiet, tlsPort: 0, cert: certs.serverCert, key: certs.clientKey }),
    ).rejects.toThrow(`key ${certs.clientKey} does not belong to cert ${certs.serverCert}`)
    await expect(
      startServer({ ...quiet, tlsPort: 0, cert: certs.serverKey, key: certs.serverKey }),
    ).rejects.toThrow(`cert ${certs.serverKey} is not a PEM certificate`)
    await expect(
      startServer({ ...quiet, tlsPort: 0, cert: certs.serverCert, key: certs.serverCert }),
    ).rejects.toThrow(`key ${certs.serverCert} is not a PEM private key`)
    await expect(
      startServer({ ...quiet, tlsPort: 0, cert: certs.serverCert, key: certs.serverKey, ca: certs.serverKey }),
    ).rejects.toThrow(`ca ${certs.serverKey} is not a PEM certificate bundle`)
    const tls = { ...quiet, tlsPort: 0, cert: certs.serverCert, key: certs.serverKey }
    await expect(startServer({ ...tls, requireClientCert: true })).rejects.toThrow('requireClientCert needs ca')
    await expect(startServer({ ...tls, certCnAsUsername: true })).rejects.toThrow('certCnAsUsername needs ca')
  })
})

describe('wren --tls-port', () => {
  it('carries mosquitto clients over TLS', async () => {
    const server = await startWren(['--no-tcp', '--no-ws', '--log-level', 'debug', '--tls-port', '0'].concat(
      ['--cert', certs.serverCert, '--key', certs.serverKey],
    ))
    try {
      expect(server.urls.tls).toBe(`mqtts://127.0.0.1:${server.ports.tls}`)
      const at = ['-h', '127.0.0.1', '-p', String(server.ports.tls), '--cafile', certs.ca]
      const sub = spawn('mosquitto_sub', [...at, '-t', 'tls/#', '-C', '1', '-v', '-W', '10'])
      let output = ''
      sub.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
      const exited = new Promise<number | null>((resolve) => sub.once('close', resolve))
      await server.waitForLog((line) => line.msg === 'client subscribed' && String(line.filters) === 'tls/#')
      const pub = spawn('mosquitto_pub', [...at, '-t', 'tls/x', '-m', 'over tls', '-q', '1'])
      expect(await new Promise((resolve) => pub.once('close', resolve))).toBe(0)
      expect(await exited).toBe(0)
      expect(output).toBe('tls/x over tls\n')
    } finally {
      await server.stop()
    }
  })
})
