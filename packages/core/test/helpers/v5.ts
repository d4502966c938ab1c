import { connect, type IClientOptions } from 'mqtt'
import type { IConnackPacket, IDisconnectPacket, IPublishPacket } from 'mqtt-packet'
import { attach, RawClient, uniqueId, type ConnectFields, type TestClient } from './clients.js'
import { Inbox } from './inbox.js'

export type PublishProperties = NonNullable<IPublishPacket['properties']>

/** A PUBLISH as an MQTT 5 client saw it: `topic` with any topic alias resolved, `wireTopic` as it was sent. */
export interface V5Message {
  topic: string
  wireTopic: string
  payload: Buffer
  qos: 0 | 1 | 2
  retain: boolean
  properties: PublishProperties
}

export interface V5Client extends TestClient {
  messages: Inbox<V5Message>
  /** DISCONNECT packets the broker sent to this client. */
  disconnects: Inbox<IDisconnectPacket>
}

const describeV5 = (m: V5Message): string => `${m.topic}${m.wireTopic === m.topic ? '' : `(wire '${m.wireTopic}')`}=${JSON.stringify(m.payload.subarray(0, 40).toString())}${m.payload.length > 40 ? `...(${m.payload.length} bytes)` : ''}(q${m.qos}${m.retain ? ',r' : ''})`

/** Connects an MQTT.js client with protocol version 5 (no automatic reconnect) and waits for CONNACK. */
export async function connectV5(url: string, options: IClientOptions = {}): Promise<V5Client> {
  const client = connect(url, { protocolVersion: 5, clientId: uniqueId('v5'), reconnectPeriod: 0, connectTimeout: 5000, ...options })
  const messages = new Inbox<V5Message>(describeV5)
  const disconnects = new Inbox<IDisconnectPacket>((p) => `disconnect(0x${(p.reasonCode ?? 0).toString(16)})`)
  client.on('message', (topic, payload, packet) => {
    messages.push({ topic, wireTopic: packet.topic.toString(), payload, qos: packet.qos, retain: packet.retain, properties: packet.properties ?? {} })
  })
  client.on('disconnect', (packet) => disconnects.push(packet))
  // MQTT.js reports a broker's DISCONNECT as an error too; the test reads `disconnects` instead.
  client.on('error', () => {})
  const connected = await attach(client)
  return { ...connected, messages, disconnects }
}

/** Opens a raw MQTT 5 connection and sends CONNECT; resolves with the CONNACK whatever its reason code. */
export async function rawHandshakeV5(port: number, fields: ConnectFields = {}): Promise<{ raw: RawClient; connack: IConnackPacket }> {
  const raw = await RawClient.open(port, 5)
  const connack = await raw.handshake({ protocolVersion: 5, ...fields })
  return { raw, connack }
}

/** A raw MQTT 5 connection whose CONNECT was accepted. */
export async function rawConnectV5(port: number, fields: ConnectFields = {}): Promise<{ raw: RawClient; connack: IConnackPacket }> {
  const result = await rawHandshakeV5(port, fields)
  if (result.connack.reasonCode !== 0) throw new Error(`CONNECT refused with reason code 0x${result.connack.reasonCode?.toString(16)}`)
  return result
}

/** Subscribes a raw client and waits for its SUBACK. */
export async function rawSubscribe(raw: RawClient, filter: string, qos: 0 | 1 | 2, messageId = 1, extra: Partial<{ nl: boolean; rap: boolean; rh: 0 | 1 | 2 }> = {}, properties?: { subscriptionIdentifier?: number }) {
  raw.send({ cmd: 'subscribe', messageId, subscriptions: [{ topic: filter, qos, ...extra }], ...(properties ? { properties } : {}) })
  return raw.next('suback', 10_000, (p) => p.messageId === messageId)
}

/** Subscription identifiers of a PUBLISH, as a sorted list (mqtt-packet gives a number or an array). */
export function subscriptionIds(properties: PublishProperties | undefined): number[] {
  const value = properties?.subscriptionIdentifier
  if (value === undefined) return []
  return (Array.isArray(value) ? [...value] : [value]).sort((a, b) => a - b)
}
