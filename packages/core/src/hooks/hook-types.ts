import type { ConnectionMeta, Message, ProtocolVersion, QoS, Subscription, UserProperties } from '../types.js'

/** A hook may answer at once or with a promise: a synchronous check costs no promise. */
export type HookResult<T> = T | Promise<T>

/** What hooks (and events) see of a connected client. */
export interface ClientInfo {
  readonly id: string
  readonly protocolVersion: ProtocolVersion
  readonly username: string | undefined
  readonly meta: ConnectionMeta
  /** Connected with the bridge bit (protocol level 0x83/0x84): another broker's bridge. */
  readonly bridge: boolean
  /** Free for the host: e.g. a tenant id or roles attached by `authenticate`. */
  data: Record<string, unknown>
  /** True once the connection has closed: slow or queued hook work for it (e.g. a password check) can be skipped. */
  readonly closed: boolean
}

/** A refusal. `reasonCode` is an MQTT 5 reason code; v3 clients get the nearest 3.1.1 code. */
export interface Denial {
  ok: false
  reasonCode?: number
  reason?: string
  /** With reason code 0x9C/0x9D on CONNECT: where the client should go instead (overrides the serverReference option). */
  serverReference?: string
}

export interface ConnectRequest {
  clientId: string
  username: string | undefined
  password: Buffer | undefined
  keepalive: number
  clean: boolean
  protocolVersion: ProtocolVersion
  will: Message | undefined
  /** MQTT 5 User Properties of the CONNECT packet (e.g. a device model or tenant the client declares). */
  userProperties: UserProperties | undefined
}

export interface Credentials {
  clientId: string
  username: string | undefined
  password: Buffer | undefined
  certificate: ConnectionMeta['certificate']
}

/** Allow with `true` / `undefined`, deny with `false` or a Denial. */
export type Verdict = boolean | undefined | Denial

export type AuthenticateResult = Verdict | { ok: true; data?: Record<string, unknown>; username?: string }

/** For `authorizePublish`: a verdict, or a rewritten message to route instead. */
export type PublishVerdict = Verdict | { ok: true; message: Message }

/** For `authorizeSubscribe`: a verdict, or the subscription to grant instead (e.g. with a lower QoS). */
export type SubscribeVerdict = Verdict | { ok: true; subscription: Subscription }

/** For `authorizeForward`: `false`/`null` drops the delivery, a Message replaces what this subscriber sees. */
export type ForwardVerdict = boolean | undefined | null | Message

/** One step of MQTT 5 enhanced authentication (AUTH packets, §4.12). */
export interface AuthExchange {
  /** The Authentication Method the client named in CONNECT. */
  method: string
  /** Authentication Data from the client's CONNECT or AUTH packet. */
  data: Buffer | undefined
  /** 0 on CONNECT, then 1, 2, ... for each AUTH from the client. */
  step: number
  /** True for re-authentication on an established connection (AUTH 0x19). */
  reauthenticate: boolean
}

/**
 * `{ ok: 'continue', data }` sends AUTH 0x18 with `data` and waits for the client's next AUTH;
 * `{ ok: true, data? }` completes (CONNACK, or AUTH 0x00 on re-authentication); a Denial ends it.
 */
export type AuthExchangeResult =
  | undefined
  | Denial
  | { ok: 'continue'; data?: Buffer }
  | { ok: true; data?: Buffer; clientData?: Record<string, unknown> }

export interface Hooks {
  preConnect(client: ClientInfo, request: ConnectRequest): HookResult<Verdict>
  authenticate(client: ClientInfo, credentials: Credentials): HookResult<AuthenticateResult>
  authorizePublish(client: ClientInfo, message: Message): HookResult<PublishVerdict>
  /** `userProperties`: the MQTT 5 User Properties of the SUBSCRIBE that asked for it (undefined when it had none). */
  authorizeSubscribe(client: ClientInfo, subscription: Subscription, userProperties?: UserProperties): HookResult<SubscribeVerdict>
  /** Synchronous on purpose: it runs once per delivery on the hot path. */
  authorizeForward(client: ClientInfo, message: Message): ForwardVerdict
  published(message: Message, client: ClientInfo | null): HookResult<void>
  /** MQTT 5 enhanced authentication; a client naming a method no hook answers gets 0x8C. */
  authenticateExchange(client: ClientInfo, exchange: AuthExchange): HookResult<AuthExchangeResult>
}

export type HookName = keyof Hooks

export type HookOptions = { [K in HookName]?: Hooks[K] | Array<Hooks[K]> }

export type { QoS }
