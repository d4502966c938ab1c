import { randomBytes } from 'node:crypto'
import type { Socket as DgramSocket } from 'node:dgram'
import { Agent, createServer, type IncomingMessage, type ObserveReadStream, type OutgoingMessage, type Server } from 'coap'
import { generate as generateCoap, parse as parseCoap, type ParsedPacket } from 'coap-packet'
import type { Broker } from '@wren/core'
import { Intervals, publishSysValues, reportGateway, udpAddress } from '@wren/gateway-kit'
import { decodeContent } from '../codec/content.js'
import { contentFormatNumber } from '../codec/content-format.js'
import { parsePath } from '../codec/path.js'
import { ObjectRegistry } from '../objects/registry.js'
import { codeName } from './coap-codes.js'
import { CommandError, parseCommand, type DeviceRequest } from './command.js'
import { Block1Assembler } from './block1.js'
import { Lwm2mDevice, observeSequence, type DeviceHost, type Registration } from './device.js'
import { DEFAULT_TOPICS, type Lwm2mOptions, type Lwm2mTopics } from './options.js'
import { clampLifetime, parseObjectList, parseRegister, RegistrationError } from './registration.js'
import { gatewayStats } from './gateway-stats.js'
import { Lwm2mStats } from './stats.js'

/** What `devices()` reports of each registered device. */
export interface Lwm2mDeviceInfo {
  endpoint: string
  location: string
  address: string
  port: number
  lifetime: number
  binding: string
  lwm2m: string
  objectList: string[]
  registeredAt: number
  lastSeen: number
  observations: number
  queuedCommands: number
}

const BLOCK_SIZE = 1024
const BLOCK1_SIZE_EXPONENT = Buffer.from([6])

type Middleware = (request: { raw: Buffer; rsinfo: { address: string; port: number }; packet?: ParsedPacket }, next: (error: Error | null) => void) => void

interface ResponseData {
  reqPath: string
  code: string
  codeMsg: string
  content?: unknown[]
}

/**
 * An OMA LwM2M 1.0 server on a UDP socket the host owns, mapped to MQTT as EMQX's LwM2M gateway maps it: every
 * registered device is an MQTT 5 session of `broker` (transport 'lwm2m', client id = endpoint name), its
 * registration and responses are published below its mountpoint and JSON commands published to it there are
 * sent to the device over CoAP (node-coap: retransmission, deduplication, block-wise transfer).
 */
export class Lwm2mGateway implements DeviceHost {
  readonly stats = new Lwm2mStats()
  readonly topics: Lwm2mTopics
  readonly qmodeTimeWindowMs: number
  readonly maxQueuedCommands: number
  readonly qos: 0 | 1
  readonly registry: ObjectRegistry
  private readonly byEndpoint = new Map<string, Lwm2mDevice>()
  private readonly byLocation = new Map<string, Lwm2mDevice>()
  /**
   * Requests not answered yet. Closing answers them: otherwise the CoAP library's piggyback timer for each would
   * fire later and write to a socket the host may have closed by then, an uncaught ERR_SOCKET_DGRAM_NOT_RUNNING.
   */
  private readonly unanswered = new Set<OutgoingMessage>()
  private readonly server: Server
  private readonly agent: Agent
  private readonly intervals = new Intervals()
  private readonly lifetimeMin: number
  private readonly lifetimeMax: number
  private readonly requestTimeout: number
  private readonly allowed: ReadonlySet<string> | undefined
  // At most 100 bodies of 64 KiB half-received at once: a flood of first blocks costs 6.4 MiB, not more.
  private readonly block1 = new Block1Assembler(64 * 1024, 100, 60_000)
  private closedValue = false
  private readonly unregister: () => void
  private readonly onDatagram = (): void => {
    this.stats.datagramsReceived++
  }

  constructor(
    readonly broker: Broker,
    readonly socket: DgramSocket,
    private readonly options: Lwm2mOptions = {},
  ) {
    this.topics = { ...DEFAULT_TOPICS, ...options.topics }
    this.qmodeTimeWindowMs = (options.qmodeTimeWindow ?? 22) * 1000
    this.maxQueuedCommands = options.maxQueuedCommands ?? 100
    this.qos = options.qos ?? 0
    this.lifetimeMin = options.lifetimeMin ?? 1
    this.lifetimeMax = options.lifetimeMax ?? 86400
    this.requestTimeout = options.requestTimeout ?? 30_000
    this.registry = new ObjectRegistry(options.objects)
    this.allowed = options.endpoints ? new Set(options.endpoints) : undefined
    socket.on('message', this.onDatagram)
    // Requests from devices go to the server, responses to the agent; both share the one socket so a device sees
    // the gateway at the address it registered with.
    this.server = createServer({ piggybackReplyMs: 500 }, (request, response) => this.onRequest(request, response))
    this.replaceParser()
    this.server.listen(socket)
    this.server.on('error', (error: Error) => this.broker.logger.warn({ err: error }, 'lwm2m: socket error'))
    this.agent = new Agent({ socket })
    this.agent.on('error', (error: Error) => this.broker.logger.warn({ err: error }, 'lwm2m: socket error'))
    this.unregister = reportGateway(broker, gatewayStats(this), 'LwM2M')
    const sysInterval = options.sysInterval ?? 10
    if (sysInterval > 0) {
      this.intervals.every(sysInterval * 1000, () => this.publishSys())
    }
  }

  get closed(): boolean {
    return this.closedValue
  }

  /** host:port the gateway listens on, while it does. */
  get address(): string | undefined {
    return udpAddress(this.socket)
  }

  /** The devices registered now. */
  devices(): Lwm2mDeviceInfo[] {
    return [...this.byEndpoint.values()].map((device) => ({
      endpoint: device.endpoint,
      location: device.location,
      address: device.address,
      port: device.port,
      lifetime: device.registration.lt,
      binding: device.registration.b,
      lwm2m: device.registration.lwm2m,
      objectList: device.registration.objectList,
      registeredAt: device.registeredAt,
      lastSeen: device.lastSeen,
      observations: device.observations.size,
      queuedCommands: device.queuedCount,
    }))
  }

  /** Ends every device's broker session and stops serving (the host closes its socket). */
  close(): void {
    if (this.closedValue) return
    this.closedValue = true
    this.unregister()
    this.intervals.stop()
    for (const device of [...this.byEndpoint.values()]) device.close()
    for (const response of this.unanswered) this.answer(response, '5.03')
    this.unanswered.clear()
    this.socket.removeListener('message', this.onDatagram)
    this.server.close()
    this.agent.close()
  }

  // --- DeviceHost ---

  parse(payload: Buffer): DeviceRequest {
    return parseCommand(payload, this.registry)
  }

  autoObserve(device: Lwm2mDevice): string[] {
    const setting = this.options.autoObserve
    if (!setting) return []
    const listed = device.registration.objectList
    // A list names what to observe of the objects a device has: paths it did not register are skipped.
    if (Array.isArray(setting)) return setting.filter((path) => listed.some((have) => path === have || path.startsWith(`${have}/`) || have.startsWith(`${path}/`)))
    // Every object instance the device lists, but the security and server objects (bootstrap material).
    return listed.filter((path) => {
      const ids = parsePath(path)
      return ids !== undefined && ids.length === 2 && ids[0] !== 0 && ids[0] !== 1
    })
  }

  registered(device: Lwm2mDevice, accepted: boolean): void {
    if (accepted) this.stats.registrations++
    else this.stats.registrationsRejected++
  }

  deviceClosed(device: Lwm2mDevice): void {
    if (this.byEndpoint.get(device.endpoint) === device) this.byEndpoint.delete(device.endpoint)
    if (this.byLocation.get(device.location) === device) this.byLocation.delete(device.location)
  }

  expired(device: Lwm2mDevice): void {
    this.stats.expirations++
    this.broker.logger.info({ endpoint: device.endpoint }, 'lwm2m: lifetime passed without an update, device dropped')
    device.publishEvent('lost', { msgType: 'lost', data: { ep: device.endpoint, reason: 'lifetime expired', lastSeen: device.lastSeen } })
    device.close()
  }

  commandRejected(device: Lwm2mDevice, error: CommandError): void {
    this.stats.commandsRejected++
    this.broker.logger.debug({ endpoint: device.endpoint, reason: error.message }, 'lwm2m: bad command')
    device.publishEvent('response', { ...error.ids, msgType: error.msgType, data: { reqPath: error.reqPath, code: '4.00', codeMsg: 'bad_request', error: error.message } })
  }

  commandQueued(dropped: boolean): void {
    this.stats.commandsQueued++
    if (dropped) this.stats.commandsDropped++
  }

  send(device: Lwm2mDevice, request: DeviceRequest): void {
    if (device.closed) return
    this.stats.commandsSent++
    const path = `${device.registration.alternatePath === '/' ? '' : device.registration.alternatePath}${request.reqPath}`
    const options: Record<string, number | Buffer> = {}
    if (request.contentFormat !== undefined) options['Content-Format'] = request.contentFormat
    if (request.accept !== undefined) options.Accept = request.accept
    // Larger payloads (a firmware package) go block-wise (RFC 7959 Block1), 1024 bytes a block: node-coap
    // segments a request that carries a Block1 option holding the block size exponent.
    if (request.payload !== undefined && request.payload.length > BLOCK_SIZE) options.Block1 = BLOCK1_SIZE_EXPONENT
    const coapRequest = this.agent.request({
      hostname: device.address,
      port: device.port,
      method: request.method,
      pathname: path,
      ...(request.query ? { query: request.query } : {}),
      ...(request.observe !== undefined ? { observe: request.observe } : {}),
      options,
      confirmable: true,
    })
    let answered = false
    const timer = setTimeout(() => {
      if (answered) return
      answered = true
      this.stats.commandsTimedOut++
      this.publishResponse(device, request, { reqPath: request.reqPath, code: '5.04', codeMsg: 'gateway_timeout' })
    }, this.requestTimeout)
    timer.unref()
    coapRequest.on('response', (response: IncomingMessage) => {
      if (answered) return
      answered = true
      clearTimeout(timer)
      this.stats.responsesReceived++
      device.heard(device.address, device.port)
      if (request.observe === 0) return this.observed(device, request, response as ObserveReadStream)
      if (request.observe === 1) {
        device.observations.get(request.reqPath)?.close()
        device.observations.delete(request.reqPath)
      }
      this.publishResponse(device, request, this.responseData(request, response))
    })
    coapRequest.on('error', (error: Error) => {
      if (answered) return
      answered = true
      clearTimeout(timer)
      this.broker.logger.debug({ endpoint: device.endpoint, err: error }, 'lwm2m: request failed')
      this.publishResponse(device, request, { reqPath: request.reqPath, code: '5.00', codeMsg: 'internal_server_error' })
    })
    coapRequest.end(request.payload)
  }

  // --- CoAP requests from devices ---

  private onRequest(request: IncomingMessage, response: OutgoingMessage): void {
    if (this.closed) return this.answer(response, '5.03')
    this.unanswered.add(response)
    response.once('finish', () => this.unanswered.delete(response))
    try {
      const url = new URL(request.url, 'coap://gateway')
      const segments = url.pathname.split('/').filter((segment) => segment !== '')
      if (segments[0] !== 'rd' || segments.length > 2) return this.answer(response, '4.04')
      if (segments.length === 1) {
        if (request.method !== 'POST') return this.answer(response, '4.05')
        return this.register(request, response, url.searchParams)
      }
      const device = this.byLocation.get(segments[1] as string)
      if (!device) return this.answer(response, '4.04')
      if (request.method === 'POST') return this.update(device, request, response, url.searchParams)
      if (request.method === 'DELETE') {
        this.stats.deregistrations++
        this.answer(response, '2.02')
        device.close()
        return
      }
      this.answer(response, '4.05')
    } catch (error) {
      this.broker.logger.error({ err: error }, 'lwm2m: error handling a request')
      this.answer(response, '5.00')
    }
  }

  private register(request: IncomingMessage, response: OutgoingMessage, query: URLSearchParams): void {
    let registration: Registration
    try {
      registration = parseRegister(query, request.payload, this.lifetimeMin, this.lifetimeMax)
    } catch (error) {
      if (!(error instanceof RegistrationError)) throw error
      this.stats.registrationsRejected++
      this.broker.logger.debug({ reason: error.message }, 'lwm2m: registration refused')
      return this.answer(response, '4.00')
    }
    if (this.allowed && !this.allowed.has(registration.ep)) {
      this.stats.registrationsRejected++
      return this.answer(response, '4.03')
    }
    const existing = this.byEndpoint.get(registration.ep)
    // The same Register again while the first is still being answered (its ACK was lost): not a new registration.
    if (existing?.registering && existing.address === request.rsinfo.address && existing.port === request.rsinfo.port) return
    // Registering again replaces the old registration (§5.3.1): its observations and queued commands go with it.
    existing?.close()
    const location = randomBytes(6).toString('hex')
    const mountpoint = (this.options.mountpoint ?? 'lwm2m/${endpoint}/').replace(/\$\{(endpoint|endpoint_name|username)\}/g, registration.ep)
    const device = new Lwm2mDevice(this, this.broker, location, mountpoint, registration, request.rsinfo.address, request.rsinfo.port, response)
    device.heard(request.rsinfo.address, request.rsinfo.port)
    this.byEndpoint.set(registration.ep, device)
    this.byLocation.set(location, device)
  }

  private update(device: Lwm2mDevice, request: IncomingMessage, response: OutgoingMessage, query: URLSearchParams): void {
    const registration = { ...device.registration }
    try {
      registration.lt = clampLifetime(query.get('lt'), registration.lt, this.lifetimeMin, this.lifetimeMax)
      const binding = query.get('b')
      if (binding !== null) registration.b = binding
      const sms = query.get('sms')
      if (sms !== null) registration.sms = sms
      if (request.payload.length > 0) Object.assign(registration, parseObjectList(request.payload))
    } catch {
      return this.answer(response, '4.00')
    }
    this.stats.updates++
    device.registration = registration
    device.heard(request.rsinfo.address, request.rsinfo.port)
    device.restartLifetime()
    this.answer(response, '2.04')
    device.publishEvent('update', { msgType: 'update', data: registration })
    device.flush()
  }

  private answer(response: OutgoingMessage, code: string): void {
    if (response.writableEnded) return
    response.code = code
    response.end()
  }

  // --- responses and notifications ---

  private responseData(request: DeviceRequest, response: IncomingMessage): ResponseData {
    const code = response.code
    const data: ResponseData = { reqPath: request.reqPath, code, codeMsg: codeName(code) }
    if (code !== '2.05' || response.payload.length === 0) return data
    try {
      data.content = decodeContent(contentFormatNumber(response.headers['Content-Format']), response.payload, request.path, this.registry)
      return data
    } catch (error) {
      this.broker.logger.debug({ err: error, reqPath: request.reqPath }, 'lwm2m: undecodable content')
      // What EMQX reports for content that does not fit the path or format.
      return { reqPath: request.reqPath, code: '4.00', codeMsg: 'bad_request' }
    }
  }

  private observed(device: Lwm2mDevice, request: DeviceRequest, stream: ObserveReadStream): void {
    const first = this.responseData(request, stream)
    this.publishResponse(device, request, first)
    if (!stream.code.startsWith('2.') || typeof stream.close !== 'function') {
      if (typeof stream.close === 'function') stream.close()
      return
    }
    device.observations.get(request.reqPath)?.close()
    device.observations.set(request.reqPath, stream)
    let initial = true
    stream.on('data', (payload: Buffer) => {
      // The stream repeats the first response as its first chunk: that one was published as the observe response.
      if (initial) {
        initial = false
        return
      }
      if (device.closed) return
      this.stats.notifications++
      device.heard(device.address, device.port)
      // A queue-mode device that notifies is awake: what waited for it goes now.
      device.flush()
      const data: ResponseData = { reqPath: request.reqPath, code: stream.code, codeMsg: codeName(stream.code) }
      try {
        data.content = decodeContent(contentFormatNumber(stream.headers['Content-Format']), payload, request.path, this.registry)
      } catch (error) {
        this.broker.logger.debug({ err: error, reqPath: request.reqPath }, 'lwm2m: undecodable notification')
        return
      }
      device.publishEvent('notify', { ...request.ids, msgType: 'notify', seqNum: observeSequence(stream) ?? 0, data })
    })
  }

  private publishResponse(device: Lwm2mDevice, request: DeviceRequest, data: ResponseData): void {
    if (device.closed) return
    device.publishEvent('response', { ...request.ids, msgType: request.msgType, data })
  }

  /**
   * node-coap answers a datagram it cannot parse with 5.00 (to a wrong address, even) and lets a token longer
   * than the datagram pass: a malformed datagram is dropped and counted instead, as the gateways' rule for bad
   * input says. Block1 request bodies are reassembled here too (see Block1Assembler).
   */
  private replaceParser(): void {
    const middlewares = (this.server as unknown as { _middlewares: Middleware[] })._middlewares
    const parseStrictly: Middleware = (request, next) => {
      const tokenLength = (request.raw[0] ?? 0) & 0x0f
      let packet: ParsedPacket
      try {
        if (tokenLength > 8 || request.raw.length < 4 + tokenLength) throw new Error('token longer than the datagram or 8 bytes')
        packet = parseCoap(request.raw)
      } catch {
        this.stats.datagramsMalformed++
        this.broker.logger.debug({ remote: `${request.rsinfo.address}:${request.rsinfo.port}` }, 'lwm2m: malformed datagram dropped')
        return
      }
      request.packet = packet
      const block1 = packet.code.startsWith('0.') ? packet.options.find((option) => option.name === 'Block1') : undefined
      if (block1 === undefined) return next(null)
      const outcome = this.block1.add(`${request.rsinfo.address}:${request.rsinfo.port}`, packet, block1.value)
      if ('body' in outcome) {
        packet.payload = outcome.body
        packet.options = packet.options.filter((option) => option !== block1)
        return next(null)
      }
      const answer = generateCoap({
        code: outcome.answer,
        messageId: packet.messageId,
        token: packet.token,
        ack: packet.confirmable,
        options: outcome.answer === '2.31' ? [{ name: 'Block1', value: block1.value }] : [],
      })
      this.socket.send(answer, request.rsinfo.port, request.rsinfo.address)
    }
    middlewares[0] = parseStrictly
  }

  private publishSys(): void {
    const s = this.stats
    const values: Array<[string, number]> = [
      ['devices/registered', this.byEndpoint.size],
      ['registrations', s.registrations],
      ['registrations/rejected', s.registrationsRejected],
      ['updates', s.updates],
      ['deregistrations', s.deregistrations],
      ['expirations', s.expirations],
      ['datagrams/received', s.datagramsReceived],
      ['datagrams/malformed', s.datagramsMalformed],
      ['commands/sent', s.commandsSent],
      ['commands/rejected', s.commandsRejected],
      ['commands/timedout', s.commandsTimedOut],
      ['commands/queued', s.commandsQueued],
      ['commands/dropped', s.commandsDropped],
      ['responses/received', s.responsesReceived],
      ['notifications', s.notifications],
    ]
    publishSysValues(this.broker, 'lwm2m', values)
  }
}

/** Serves LwM2M 1.0 on `socket` (bound by the host, e.g. `dgram.createSocket('udp4').bind(5683)`) for `broker`. */
export function attachLwm2m(broker: Broker, socket: DgramSocket, options?: Lwm2mOptions): Lwm2mGateway {
  return new Lwm2mGateway(broker, socket, options)
}
