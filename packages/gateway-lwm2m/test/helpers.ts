import dgram from 'node:dgram'
import { generate, parse, type NamedOption, type ParsedPacket } from 'coap-packet'
import { onTestFinished } from 'vitest'
import type { Broker, BrokerOptions } from '@wren/core'
import { connectClient, uniqueId, type TestClient } from '../../core/test/helpers/clients.js'
import { Inbox } from '../../core/test/helpers/inbox.js'
import { startBroker, type StartedBroker } from '../../core/test/helpers/start-broker.js'
import { bindUdp } from '../../gateway-mqttsn/test/helpers.js'
import { attachLwm2m, type Lwm2mGateway, type Lwm2mOptions } from '../src/index.js'

export interface StartedGateway extends StartedBroker {
  gateway: Lwm2mGateway
  udpPort: number
}

/** A broker listening on TCP with the LwM2M gateway on a loopback UDP port; both closed when the test finishes. */
export async function startGateway(options: Lwm2mOptions = {}, brokerOptions: BrokerOptions = {}): Promise<StartedGateway> {
  const started = await startBroker({ sysInterval: 0, ...brokerOptions })
  const socket = await bindUdp()
  const gateway = attachLwm2m(started.broker as unknown as Broker, socket, { sysInterval: 0, ...options })
  onTestFinished(() => {
    gateway.close()
    try {
      socket.close()
    } catch {
      // Closed by the test.
    }
  })
  return { ...started, gateway, udpPort: socket.address().port }
}

/** An MQTT application subscribed to every device's uplink topics; `up()` takes the next JSON message. */
export class App {
  constructor(readonly mqtt: TestClient) {}

  static async connect(gw: StartedGateway, filter = 'lwm2m/+/up/#'): Promise<App> {
    const mqtt = await connectClient(gw.url, { clientId: uniqueId('app') })
    await mqtt.client.subscribeAsync(filter, { qos: 0 })
    return new App(mqtt)
  }

  async up(topic: string, timeoutMs = 5000): Promise<Record<string, unknown> & { data: Record<string, unknown> }> {
    const message = await this.mqtt.inbox.next((m) => m.topic === topic, timeoutMs, `a message on ${topic}`)
    return JSON.parse(message.payload.toString())
  }

  async command(endpoint: string, command: unknown): Promise<void> {
    await this.mqtt.client.publishAsync(`lwm2m/${endpoint}/dn`, JSON.stringify(command), { qos: 0 })
  }
}

export interface CoapRequestIn {
  packet: ParsedPacket
  path: string
  query: string[]
  observe: number | undefined
  contentFormat: number | undefined
  accept: number | undefined
}

function optionValues(packet: ParsedPacket, name: string): Buffer[] {
  return packet.options.filter((option) => option.name === name).map((option) => option.value)
}

function uint(buffer: Buffer | undefined): number | undefined {
  if (buffer === undefined) return undefined
  return buffer.length === 0 ? 0 : buffer.readUIntBE(0, buffer.length)
}

function uintBuffer(value: number): Buffer {
  if (value === 0) return Buffer.alloc(0)
  const length = value > 0xffff ? 3 : value > 0xff ? 2 : 1
  const out = Buffer.alloc(length)
  out.writeUIntBE(value, 0, length)
  return out
}

export interface SendOptions {
  query?: string[]
  payload?: Buffer | string
  contentFormat?: number
  confirmable?: boolean
  messageId?: number
}

/**
 * A device speaking raw CoAP packets (encoded by `coap-packet`, not by the library the gateway uses), so tests
 * control every byte: registration, responses with chosen codes and formats, notifications, garbage.
 */
export class RawDevice {
  readonly requests = new Inbox<CoapRequestIn>((r) => `${r.packet.code} ${r.path}`)
  private readonly responses = new Map<number, (packet: ParsedPacket) => void>()
  private nextMessageId = Math.floor(Math.random() * 0xffff)
  location = ''
  /** The last request sent, to retransmit it as a device whose ACK was lost would. */
  lastRequest: Buffer = Buffer.alloc(0)

  private constructor(
    readonly socket: dgram.Socket,
    readonly gatewayPort: number,
  ) {
    socket.on('message', (datagram) => this.onDatagram(datagram))
  }

  static async open(gatewayPort: number): Promise<RawDevice> {
    const socket = await bindUdp()
    const device = new RawDevice(socket, gatewayPort)
    onTestFinished(() => {
      socket.close()
    })
    return device
  }

  get port(): number {
    return this.socket.address().port
  }

  sendRaw(bytes: Buffer): void {
    this.socket.send(bytes, this.gatewayPort, '127.0.0.1')
  }

  /** Sends a confirmable request and resolves with the gateway's (piggybacked or separate) response. */
  request(method: 'post' | 'put' | 'delete' | 'get', path: string, options: SendOptions = {}): Promise<ParsedPacket> {
    this.nextMessageId = (this.nextMessageId + 1) & 0xffff
    const messageId = options.messageId ?? this.nextMessageId
    const token = Buffer.from([messageId >> 8, messageId & 0xff, 0x4c])
    const coapOptions: NamedOption[] = []
    for (const segment of path.split('/').filter((s) => s !== '')) coapOptions.push({ name: 'Uri-Path', value: Buffer.from(segment) })
    if (options.contentFormat !== undefined) coapOptions.push({ name: 'Content-Format', value: uintBuffer(options.contentFormat) })
    for (const part of options.query ?? []) coapOptions.push({ name: 'Uri-Query', value: Buffer.from(part) })
    const payload = typeof options.payload === 'string' ? Buffer.from(options.payload) : (options.payload ?? Buffer.alloc(0))
    const bytes = generate({ code: method.toUpperCase() as 'POST', messageId, token, confirmable: options.confirmable ?? true, options: coapOptions, payload })
    this.lastRequest = bytes
    return new Promise((resolve) => {
      this.responses.set(token.readUIntBE(0, 3), resolve)
      this.sendRaw(bytes)
    })
  }

  async register(endpoint: string, query: string[] = ['lt=345', 'lwm2m=1.0'], links = '</1/0>,</3/0>,</3303/0>'): Promise<ParsedPacket> {
    const response = await this.request('post', '/rd', { query: [`ep=${endpoint}`, ...query], payload: links, contentFormat: 40 })
    const location = optionValues(response, 'Location-Path').map((v) => v.toString())
    if (location.length === 2) this.location = location[1] as string
    return response
  }

  update(query: string[] = [], links?: string): Promise<ParsedPacket> {
    return this.request('post', `/rd/${this.location}`, { query, ...(links ? { payload: links, contentFormat: 40 } : {}) })
  }

  deregister(): Promise<ParsedPacket> {
    return this.request('delete', `/rd/${this.location}`)
  }

  /** Answers a request from the gateway with a piggybacked ACK. */
  respond(request: CoapRequestIn, code: string, payload: Buffer | string = Buffer.alloc(0), contentFormat?: number, observe?: number): void {
    const options: NamedOption[] = []
    if (observe !== undefined) options.push({ name: 'Observe', value: uintBuffer(observe) })
    if (contentFormat !== undefined) options.push({ name: 'Content-Format', value: uintBuffer(contentFormat) })
    this.sendRaw(
      generate({
        code,
        messageId: request.packet.messageId,
        token: request.packet.token,
        ack: true,
        options,
        payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
      }),
    )
  }

  /** Sends an Observe notification (non-confirmable) for an observe request. */
  notify(request: CoapRequestIn, sequence: number, payload: Buffer | string, contentFormat: number): void {
    this.nextMessageId = (this.nextMessageId + 1) & 0xffff
    this.sendRaw(
      generate({
        code: '2.05',
        messageId: this.nextMessageId,
        token: request.packet.token,
        confirmable: false,
        options: [
          { name: 'Observe', value: uintBuffer(sequence) },
          { name: 'Content-Format', value: uintBuffer(contentFormat) },
        ],
        payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
      }),
    )
  }

  private onDatagram(datagram: Buffer): void {
    const packet = parse(datagram)
    if (packet.code.startsWith('0.') && packet.code !== '0.00') {
      const path = `/${optionValues(packet, 'Uri-Path').map((v) => v.toString()).join('/')}`
      const query = optionValues(packet, 'Uri-Query').map((v) => v.toString())
      const observe = uint(optionValues(packet, 'Observe')[0])
      this.requests.push({ packet, path, query, observe, contentFormat: uint(optionValues(packet, 'Content-Format')[0]), accept: uint(optionValues(packet, 'Accept')[0]) })
      return
    }
    if (packet.token.length === 3) {
      // An empty ACK announces a separate response; a response with a payload or code completes the request.
      if (packet.code === '0.00') return
      const resolve = this.responses.get(packet.token.readUIntBE(0, 3))
      if (!resolve) return
      this.responses.delete(packet.token.readUIntBE(0, 3))
      if (packet.confirmable) this.sendRaw(generate({ code: '0.00', messageId: packet.messageId, ack: true }))
      resolve(packet)
    }
  }
}

export function locationOf(packet: ParsedPacket): string[] {
  return optionValues(packet, 'Location-Path').map((v) => v.toString())
}
