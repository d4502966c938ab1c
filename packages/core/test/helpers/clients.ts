import net from 'node:net'
import type { Duplex } from 'node:stream'
import { connect, type IClientOptions, type MqttClient } from 'mqtt'
import { generate, parser, type IConnackPacket, type IConnectPacket, type Packet, type PacketCmd, type QoS } from 'mqtt-packet'
import { onTestFinished } from 'vitest'
import { Inbox } from './inbox.js'

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

let counter = 0
/** A client id unique within the test run. */
export function uniqueId(prefix = 'test'): string {
  counter++
  return `${prefix}-${process.pid}-${counter}`
}

export interface ReceivedMessage {
  topic: string
  payload: Buffer
  qos: QoS
  retain: boolean
  dup: boolean
  messageId: number | undefined
}

function describeMessage(m: ReceivedMessage): string {
  return `${m.topic}=${JSON.stringify(m.payload.toString())}(q${m.qos}${m.retain ? ',r' : ''}${m.dup ? ',dup' : ''})`
}

export interface TestClient {
  client: MqttClient
  /** Every PUBLISH the client received, from before CONNACK on. */
  inbox: Inbox<ReceivedMessage>
  connack: IConnackPacket
  /** Resolves when the connection closes (for whatever reason). */
  closed: Promise<void>
}

/**
 * Connects an MQTT.js client (3.1.1 unless `protocolVersion` says otherwise, no automatic reconnect) and waits
 * for CONNACK. Inside a test it is force-closed when the test finishes.
 */
export function connectClient(url: string, options: IClientOptions = {}): Promise<TestClient> {
  const client = connect(url, {
    protocolVersion: 4,
    clientId: uniqueId('mqttjs'),
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...options,
  })
  return attach(client)
}

/** Waits for CONNACK on an MQTT.js client that is already connecting, and collects what it receives. */
export function attach(client: MqttClient): Promise<TestClient> {
  onTestFinished(() => {
    client.end(true)
  })
  const inbox = new Inbox<ReceivedMessage>(describeMessage)
  client.on('message', (topic, payload, packet) => {
    inbox.push({ topic, payload, qos: packet.qos, retain: packet.retain, dup: packet.dup, messageId: packet.messageId })
  })
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()))
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => {
      client.removeListener('connect', onConnect)
      reject(error)
    }
    const onConnect = (connack: IConnackPacket) => {
      client.removeListener('error', fail)
      resolve({ client, inbox, connack, closed })
    }
    client.once('connect', onConnect)
    client.once('error', fail)
    client.once('close', () => fail(new Error('connection closed before CONNACK')))
  })
}

/** Resolves true if `closed` settles within `timeoutMs`, false otherwise. */
export async function closesWithin(closed: Promise<void>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs)
  })
  const result = await Promise.race([closed.then(() => true as const), timeout])
  clearTimeout(timer)
  return result
}

type PacketOf<C extends PacketCmd> = Extract<Packet, { cmd: C }>

export type ConnectFields = Partial<Omit<IConnectPacket, 'cmd'>>

/**
 * Speaks MQTT over a stream without a client library: writes hand-built bytes or mqtt-packet-generated packets
 * and parses what the broker sends back. Needed for the failure paths a real client will not produce.
 */
export class RawClient {
  readonly packets: Inbox<Packet>
  /** Errors from parsing what the broker sent (a test that expects a well-formed reply checks this is empty). */
  readonly parseErrors: Error[] = []
  readonly closed: Promise<void>
  isClosed = false
  private readonly parser

  constructor(
    readonly stream: Duplex,
    readonly protocolVersion: 3 | 4 | 5 = 4,
  ) {
    this.packets = new Inbox<Packet>((p) => describePacket(p))
    this.parser = parser({ protocolVersion })
    this.parser.on('packet', (packet: Packet) => this.packets.push(packet))
    this.parser.on('error', (error: Error) => this.parseErrors.push(error))
    stream.on('data', (chunk: Buffer) => this.parser.parse(chunk))
    // A broker closing the connection may reset it: that is a close, not a test failure.
    stream.on('error', () => {})
    this.closed = new Promise((resolve) =>
      stream.once('close', () => {
        this.isClosed = true
        resolve()
      }),
    )
    onTestFinished(() => {
      stream.destroy()
    })
  }

  /** Opens a TCP connection; sends nothing. */
  static open(port: number, protocolVersion: 3 | 4 | 5 = 4): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1' })
      socket.setNoDelay(true)
      socket.once('error', reject)
      socket.once('connect', () => {
        socket.removeListener('error', reject)
        resolve(new RawClient(socket, protocolVersion))
      })
    })
  }

  /** Opens a TCP connection, sends CONNECT and waits for an accepting CONNACK. */
  static async connect(port: number, fields: ConnectFields = {}): Promise<{ raw: RawClient; connack: IConnackPacket }> {
    const version = fields.protocolVersion ?? 4
    const raw = await RawClient.open(port, version)
    const connack = await raw.handshake(fields)
    if (connack.returnCode !== 0) throw new Error(`CONNECT refused with return code ${connack.returnCode}`)
    return { raw, connack }
  }

  /** Sends CONNECT (clean session, keepalive 60, a unique id unless told otherwise) and returns the CONNACK. */
  async handshake(fields: ConnectFields = {}): Promise<IConnackPacket> {
    this.send({
      cmd: 'connect',
      protocolId: this.protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: this.protocolVersion,
      clientId: uniqueId('raw'),
      clean: true,
      keepalive: 60,
      ...fields,
    })
    return this.next('connack')
  }

  send(packet: Packet): void {
    this.stream.write(generate(packet, { protocolVersion: this.protocolVersion }))
  }

  write(bytes: Buffer | readonly number[]): void {
    this.stream.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes))
  }

  /** Takes the next packet of this type (packets of other types stay unread). */
  async next<C extends PacketCmd>(cmd: C, timeoutMs = 10_000, predicate: (packet: PacketOf<C>) => boolean = () => true): Promise<PacketOf<C>> {
    const packet = await this.packets.next((p) => p.cmd === cmd && predicate(p as PacketOf<C>), timeoutMs, `a ${cmd.toUpperCase()} packet`)
    return packet as PacketOf<C>
  }

  /** Resolves true when the broker closes the connection within `timeoutMs`. */
  closesWithin(timeoutMs: number): Promise<boolean> {
    return closesWithin(this.closed, timeoutMs)
  }

  /** Ends the connection without DISCONNECT, as a crashed client would. */
  destroy(): void {
    this.stream.destroy()
  }
}

function describePacket(packet: Packet): string {
  switch (packet.cmd) {
    case 'publish':
      return `publish(${packet.topic},q${packet.qos},id${packet.messageId ?? '-'}${packet.dup ? ',dup' : ''}${packet.retain ? ',r' : ''})`
    case 'connack':
      return `connack(rc${packet.returnCode ?? packet.reasonCode},sp${packet.sessionPresent ? 1 : 0})`
    case 'suback':
      return `suback(id${packet.messageId},${JSON.stringify(packet.granted)})`
    default:
      return packet.messageId === undefined ? packet.cmd : `${packet.cmd}(id${packet.messageId})`
  }
}

export interface ConnectBytes {
  protocolName?: string
  level?: number
  /** The connect flags byte as sent. Default 0x02 (clean session). */
  flags?: number
  keepalive?: number
  clientId?: string
  /** Further payload fields (will topic, will message, ...) already encoded. */
  extra?: Buffer
}

function utf8Field(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8')
  const length = Buffer.alloc(2)
  length.writeUInt16BE(bytes.length)
  return Buffer.concat([length, bytes])
}

/** Encodes a length-prefixed string as MQTT does. */
export const encodeString = utf8Field

/** Builds a CONNECT byte by byte, so that any field can be wrong. */
export function connectBytes(fields: ConnectBytes = {}): Buffer {
  const variable = Buffer.concat([
    utf8Field(fields.protocolName ?? 'MQTT'),
    Buffer.from([fields.level ?? 4, fields.flags ?? 0x02, ((fields.keepalive ?? 60) >> 8) & 0xff, (fields.keepalive ?? 60) & 0xff]),
    utf8Field(fields.clientId ?? uniqueId('bytes')),
    fields.extra ?? Buffer.alloc(0),
  ])
  return Buffer.concat([Buffer.from([0x10]), remainingLength(variable.length), variable])
}

/** The variable-length "remaining length" encoding of the fixed header. */
export function remainingLength(length: number): Buffer {
  const bytes: number[] = []
  let value = length
  do {
    let byte = value % 128
    value = Math.floor(value / 128)
    if (value > 0) byte |= 0x80
    bytes.push(byte)
  } while (value > 0)
  return Buffer.from(bytes)
}

/** The MQTT 3.1.1 CONNACK return code or MQTT 5 reason code a refused MQTT.js client reports. */
export async function refusal(connecting: Promise<unknown>): Promise<number | undefined> {
  try {
    await connecting
  } catch (error) {
    return (error as { code?: number }).code
  }
  throw new Error('the connection was accepted')
}
