import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { WebSocket } from 'ws'
import { startServer, type RunningServer } from '../src/index.js'
import type { ServerConfig } from '../src/config.js'
import { makeCertificates, type Certificates } from './helpers/certificates.js'

let dir: string
let certs: Certificates
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wren-safe-'))
  certs = makeCertificates(dir)
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const quiet = { port: 0, wsPort: -1, sysInterval: 0, logLevel: 'silent' } as const

async function start(config: Partial<ServerConfig>, logger?: pino.Logger): Promise<RunningServer> {
  const server = await startServer(config, logger ? { logger } : {})
  onTestFinished(() => server.close())
  return server
}

/** A pino logger whose lines land in `lines`. */
function capture(lines: Array<{ level: number; msg: string }>) {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { level: number; msg: string })
      callback()
    },
  })
  return pino({ level: 'info' }, sink)
}

describe('safe defaults', () => {
  it('listens on loopback only, and says how to open it, without a host and without authentication', async () => {
    const lines: Array<{ level: number; msg: string }> = []
    const server = await start(quiet, capture(lines))
    expect(server.addresses[0]?.host).toBe('127.0.0.1')
    expect(lines.find((line) => line.level === 40)?.msg).toMatch(/loopback only.*--allow-anonymous/)
  })

  it('refuses a public host with anonymous access unless allowAnonymous', async () => {
    await expect(startServer({ ...quiet, host: '0.0.0.0' })).rejects.toThrow(/--allow-anonymous/)
  })

  it('refuses an ACL file without a password file unless trustClientUsernames', async () => {
    const aclFile = join(dir, 'acl')
    await writeFile(aclFile, 'user admin\ntopic readwrite #\n')
    await expect(startServer({ ...quiet, aclFile })).rejects.toThrow(/--trust-client-usernames/)
    const server = await start({ ...quiet, aclFile, trustClientUsernames: true })
    expect(server.addresses).toHaveLength(1)
  })
})

/** Opens a WebSocket; resolves with how it went: 'open', an HTTP status, or a close code. */
function wsOutcome(url: string, protocols: string[], options: { origin?: string; send?: Buffer } = {}): Promise<string> {
  const socket = new WebSocket(url, protocols, options.origin === undefined ? {} : { origin: options.origin })
  onTestFinished(() => socket.terminate())
  return new Promise((resolve) => {
    socket.once('unexpected-response', (_request, response) => resolve(`http ${response.statusCode}`))
    socket.once('error', () => undefined)
    socket.once('close', (code) => resolve(`close ${code}`))
    socket.once('open', () => {
      if (options.send) socket.send(options.send)
      else resolve('open')
    })
  })
}

describe('WebSocket listener', () => {
  const ws = { ...quiet, port: -1, wsPort: 0, host: '127.0.0.1' } as const

  it('refuses an upgrade without an MQTT subprotocol', async () => {
    const server = await start(ws)
    const url = server.addresses[0]?.url as string
    expect(await wsOutcome(url, [])).toBe('http 400')
    expect(await wsOutcome(url, ['chat'])).toBe('http 400')
    expect(await wsOutcome(url, ['mqtt'])).toBe('open')
  })

  it('refuses origins not on wsOrigins', async () => {
    const server = await start({ ...ws, wsOrigins: ['https://app.example'] })
    const url = server.addresses[0]?.url as string
    expect(await wsOutcome(url, ['mqtt'], { origin: 'https://evil.example' })).toBe('http 403')
    expect(await wsOutcome(url, ['mqtt'], { origin: 'https://app.example' })).toBe('open')
  })

  it('closes a WebSocket message over maxPacketSize with 1009 before buffering it', async () => {
    const server = await start({ ...ws, maxPacketSize: 1024 })
    expect(await wsOutcome(server.addresses[0]?.url as string, ['mqtt'], { send: Buffer.alloc(64 * 1024) })).toBe('close 1009')
  })
})

describe('TLS listener', () => {
  /** Resolves true when the server closes the socket. */
  const closedByServer = (socket: net.Socket) => new Promise<boolean>((resolve) => socket.once('close', () => resolve(true)))

  it('closes a socket that never starts its handshake after connectTimeout, and counts it toward maxConnections', async () => {
    const server = await start({ ...quiet, port: -1, host: '127.0.0.1', tlsPort: 0, cert: certs.serverCert, key: certs.serverKey, connectTimeout: 300, maxConnections: 1 })
    const port = server.addresses[0]?.port as number
    const silent = net.connect({ port, host: '127.0.0.1' })
    await new Promise((resolve) => silent.once('connect', resolve))
    const extra = net.connect({ port, host: '127.0.0.1' })
    extra.on('error', () => undefined)
    expect(await closedByServer(extra)).toBe(true)
    expect(await closedByServer(silent)).toBe(true)
  })
})
