import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { connect } from 'mqtt'
import type { IAuthPacket } from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import type { AuthExchange, AuthExchangeResult, ClientInfo } from '../../src/index.js'
import { attach, RawClient, uniqueId } from '../helpers/clients.js'
import { rawConnectV5, rawHandshakeV5, rawSubscribe } from '../helpers/v5.js'
import { startBroker } from '../helpers/start-broker.js'

const METHOD = 'HMAC-NONCE'
const SECRET = 'correct horse battery staple'
const sign = (nonce: Buffer, secret = SECRET): Buffer => createHmac('sha256', secret).update(nonce).digest()

/**
 * A tiny challenge-response scheme: the server answers the first step with a random nonce, the client
 * proves it knows the shared secret by returning HMAC-SHA256(secret, nonce).
 */
function hmacNonceHook() {
  const nonces = new Map<string, Buffer>()
  const calls: Array<Pick<AuthExchange, 'step' | 'reauthenticate'> & { hasData: boolean }> = []
  const hook = (client: ClientInfo, exchange: AuthExchange): AuthExchangeResult => {
    calls.push({ step: exchange.step, reauthenticate: exchange.reauthenticate, hasData: exchange.data !== undefined })
    if (exchange.method !== METHOD) return undefined
    const nonce = nonces.get(client.id)
    if (nonce === undefined) {
      const fresh = randomBytes(16)
      nonces.set(client.id, fresh)
      return { ok: 'continue', data: fresh }
    }
    nonces.delete(client.id)
    const expected = sign(nonce)
    if (exchange.data !== undefined && exchange.data.length === expected.length && timingSafeEqual(exchange.data, expected)) {
      return { ok: true, data: Buffer.from('welcome') }
    }
    return { ok: false, reasonCode: 0x87 }
  }
  return { hook, calls }
}

const auth = (reasonCode: number, data?: Buffer, method = METHOD): IAuthPacket => ({
  cmd: 'auth',
  reasonCode,
  properties: data === undefined ? { authenticationMethod: method } : { authenticationMethod: method, authenticationData: data },
})

/** Sends CONNECT naming the method and answers the server's challenge; resolves with the CONNACK. */
async function authenticate(port: number, secret = SECRET) {
  const raw = await RawClient.open(port, 5)
  const clientId = uniqueId('auth')
  raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId, clean: true, keepalive: 60, properties: { authenticationMethod: METHOD } })
  const challenge = await raw.next('auth')
  raw.send(auth(0x18, sign(challenge.properties?.authenticationData ?? Buffer.alloc(0), secret)))
  const connack = await raw.next('connack')
  return { raw, challenge, connack, clientId }
}

/** Re-authenticates an established connection; resolves with the server's final AUTH or DISCONNECT. */
async function reauthenticate(raw: RawClient, secret = SECRET) {
  raw.send(auth(0x19))
  const challenge = await raw.next('auth')
  expect(challenge.reasonCode).toBe(0x18)
  raw.send(auth(0x18, sign(challenge.properties?.authenticationData ?? Buffer.alloc(0), secret)))
  return raw.packets.next((p) => p.cmd === 'auth' || p.cmd === 'disconnect', 3000, 'AUTH or DISCONNECT')
}

describe('MQTT 5 enhanced authentication (§4.12)', () => {
  it('runs a challenge-response exchange: AUTH 0x18 with the challenge, then CONNACK 0 with the method and data [MQTT-4.12.0-1]', async () => {
    const { hook, calls } = hmacNonceHook()
    const b = await startBroker({ hooks: { authenticateExchange: hook } })
    const { raw, challenge, connack } = await authenticate(b.port)
    expect(challenge.reasonCode).toBe(0x18)
    expect(challenge.properties?.authenticationMethod).toBe(METHOD)
    expect(challenge.properties?.authenticationData?.length).toBe(16)
    expect(connack.reasonCode).toBe(0)
    expect(connack.properties?.authenticationMethod).toBe(METHOD)
    expect(connack.properties?.authenticationData?.toString()).toBe('welcome')
    expect(calls).toEqual([
      { step: 0, reauthenticate: false, hasData: false },
      { step: 1, reauthenticate: false, hasData: true },
    ])
    // the connection is a normal one now
    expect((await rawSubscribe(raw, 'authed/#', 1)).granted).toEqual([1])
  })

  it('refuses with the hook reason code when the response is wrong, and closes [MQTT-4.12.0-2]', async () => {
    const { hook } = hmacNonceHook()
    const b = await startBroker({ hooks: { authenticateExchange: hook } })
    const { raw, connack } = await authenticate(b.port, 'wrong secret')
    expect(connack.reasonCode).toBe(0x87)
    expect(await raw.closesWithin(2000)).toBe(true)
  })

  it('refuses an authentication method no hook handles with CONNACK 0x8C', async () => {
    const b = await startBroker()
    const { raw, connack } = await rawHandshakeV5(b.port, { properties: { authenticationMethod: 'SCRAM-SHA-1' } })
    expect(connack.reasonCode).toBe(0x8c)
    expect(await raw.closesWithin(2000)).toBe(true)
  })

  it('refuses with CONNACK 0x8C a method the registered hooks have no opinion on', async () => {
    const { hook } = hmacNonceHook()
    const b = await startBroker({ hooks: { authenticateExchange: hook } })
    const { connack } = await rawHandshakeV5(b.port, { properties: { authenticationMethod: 'SCRAM-SHA-1' } })
    expect(connack.reasonCode).toBe(0x8c)
  })

  it('re-authenticates an established connection: AUTH 0x19, challenge, AUTH 0x00 [MQTT-4.12.1-1]', async () => {
    const { hook, calls } = hmacNonceHook()
    const b = await startBroker({ hooks: { authenticateExchange: hook } })
    const { raw } = await authenticate(b.port)
    const outcome = await reauthenticate(raw)
    expect(outcome.cmd).toBe('auth')
    expect((outcome as IAuthPacket).reasonCode).toBe(0)
    expect((outcome as IAuthPacket).properties?.authenticationMethod).toBe(METHOD)
    expect(calls.slice(2).map((c) => c.reauthenticate)).toEqual([true, true])
    expect((await rawSubscribe(raw, 'still/here', 0)).granted).toEqual([0])
  })

  it('disconnects with the hook reason code when re-authentication fails [MQTT-4.12.1-2]', async () => {
    const { hook } = hmacNonceHook()
    const b = await startBroker({ hooks: { authenticateExchange: hook } })
    const { raw } = await authenticate(b.port)
    const outcome = await reauthenticate(raw, 'stolen session, wrong secret')
    expect(outcome.cmd).toBe('disconnect')
    expect((outcome as { reasonCode?: number }).reasonCode).toBe(0x87)
    expect(await raw.closesWithin(2000)).toBe(true)
  })

  it('treats AUTH with another method than CONNECT named as a protocol error [MQTT-4.12.1-1]', async () => {
    const { hook } = hmacNonceHook()
    const b = await startBroker({ hooks: { authenticateExchange: hook } })
    const { raw } = await authenticate(b.port)
    raw.send(auth(0x19, undefined, 'OTHER'))
    expect((await raw.next('disconnect')).reasonCode).toBe(0x82)
  })

  it('treats AUTH from a client that connected without a method as a protocol error (§4.12)', async () => {
    const b = await startBroker()
    const { raw } = await rawConnectV5(b.port)
    raw.send(auth(0x19))
    expect((await raw.next('disconnect')).reasonCode).toBe(0x82)
  })

  it('works with MQTT.js handleAuth', async () => {
    const { hook } = hmacNonceHook()
    const b = await startBroker({ hooks: { authenticateExchange: hook } })
    const client = connect(b.url, {
      protocolVersion: 5,
      clientId: uniqueId('mqttjs-auth'),
      reconnectPeriod: 0,
      manualConnect: true,
      properties: { authenticationMethod: METHOD },
    })
    client.handleAuth = (packet, callback) => {
      callback(undefined, auth(0x18, sign(packet.properties?.authenticationData ?? Buffer.alloc(0))))
    }
    client.connect()
    const { connack } = await attach(client)
    expect(connack.reasonCode).toBe(0)
    expect(connack.properties?.authenticationData?.toString()).toBe('welcome')
  })
})
