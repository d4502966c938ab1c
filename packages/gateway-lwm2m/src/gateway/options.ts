import type { ObjectDefinition } from '../objects/types.js'

/** The MQTT topics (below the mountpoint) the gateway uses, as EMQX's `translators` name them. */
export interface Lwm2mTopics {
  /** Commands to devices are published here (and below it). Default 'dn'. */
  command: string
  /** Responses to commands. Default 'up/resp'. */
  response: string
  /** Observe notifications. Default 'up/notify'. */
  notify: string
  /** Registrations. Default 'up/register' (EMQX's shipped config points it at 'up/resp'). */
  register: string
  /** Registration updates. Default 'up/update'. */
  update: string
  /** A device whose lifetime passed without an Update (a Wren addition). Default 'up/lost'. */
  lost: string
}

export interface Lwm2mOptions {
  /** Topic prefix per device; `${endpoint}` (or EMQX's `${endpoint_name}`) is the endpoint name. Default 'lwm2m/${endpoint}/'. */
  mountpoint?: string
  /** Lifetimes (seconds) asked for below/above these are raised/lowered to them. Defaults 1 and 86400. */
  lifetimeMin?: number
  lifetimeMax?: number
  /** Seconds a queue-mode device (binding with Q) listens after it last talked. Default 22. */
  qmodeTimeWindow?: number
  /** Observe what a device registers as soon as it registers: true for every object instance it lists, or a list of paths. */
  autoObserve?: boolean | string[]
  /** Object definitions beyond the shipped core ones (see `parseObjectXml`), used to type TLV values. */
  objects?: ObjectDefinition[]
  /** When given, only these endpoint names may register (others get 4.03 Forbidden). */
  endpoints?: string[]
  /** Topic names below the mountpoint. */
  topics?: Partial<Lwm2mTopics>
  /** QoS of what the gateway publishes (0 or 1). Default 0. */
  qos?: 0 | 1
  /** Milliseconds a command waits for the device's answer before a 5.04 response is published. Default 30000. */
  requestTimeout?: number
  /** Commands held per sleeping queue-mode device; more are dropped (oldest first). Default 100. */
  maxQueuedCommands?: number
  /** Seconds between `$SYS/broker/lwm2m/...` publications; 0 turns them off. Default 10. */
  sysInterval?: number
}

export const DEFAULT_TOPICS: Lwm2mTopics = {
  command: 'dn',
  response: 'up/resp',
  notify: 'up/notify',
  register: 'up/register',
  update: 'up/update',
  lost: 'up/lost',
}
