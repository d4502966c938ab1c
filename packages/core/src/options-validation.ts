import { ErrorCode, UsageError } from './errors.js'
import type { BrokerOptions } from './options.js'

/** What a broker option accepts: checked at `createBroker`, and reused by the server for its config and flags. */
export type OptionRule =
  | { type: 'integer'; min: number; max: number }
  | { type: 'boolean' }
  | { type: 'string'; nonEmpty?: boolean }
  | { type: 'enum'; values: readonly string[]; orFunction?: boolean }
  | { type: 'object'; methods?: readonly string[] }
  | { type: 'function' }

const integer = (min: number, max: number): OptionRule => ({ type: 'integer', min, max })
const ANY_COUNT = Number.MAX_SAFE_INTEGER
const HOUR_MS = 3_600_000

/** One rule per option: a new option in `BrokerOptions` does not compile until it says what it accepts. */
export const BROKER_OPTION_RULES: { readonly [K in keyof BrokerOptions]-?: OptionRule } = {
  id: { type: 'string', nonEmpty: true },
  persistence: { type: 'object' },
  hooks: { type: 'object' },
  cluster: { type: 'object' },
  sharedSubscriptionStrategy: { type: 'function' },
  logger: { type: 'object', methods: ['debug', 'info', 'warn', 'error'] },
  connectTimeout: integer(1, HOUR_MS),
  maxPacketSize: integer(2, 268_435_455),
  maxInflight: integer(1, 65_535),
  maxQueued: integer(1, ANY_COUNT),
  maxQueuedBytes: integer(0, ANY_COUNT),
  queueFullPolicy: { type: 'enum', values: ['drop-new', 'drop-old'] },
  fullQueueAction: { type: 'enum', values: ['hold-publishers', 'drop'], orFunction: true },
  maxSocketBuffer: integer(1, ANY_COUNT),
  qos0HoldTime: integer(0, HOUR_MS),
  drainTimeout: integer(1, HOUR_MS),
  maxTopicLength: integer(1, 65_535),
  maxTopicLevels: integer(1, 65_535),
  // MQTT 3.1.1 §3.1.3.1: a server MUST allow client ids of 1 to 23 characters.
  maxClientIdLength: integer(23, 65_535),
  maxSubscriptionsPerClient: integer(1, ANY_COUNT),
  maxSubscriptionBytesPerClient: integer(0, ANY_COUNT),
  maxConnections: integer(1, ANY_COUNT),
  maxQos: integer(0, 2),
  retainAvailable: { type: 'boolean' },
  maxKeepalive: integer(0, 65_535),
  receiveMaximum: integer(1, 65_535),
  topicAliasMaximum: integer(0, 65_535),
  maxSessionExpiryInterval: integer(0, 0xffff_ffff),
  sysInterval: integer(0, 86_400),
  matchCacheSize: integer(0, ANY_COUNT),
  maxPublishRate: integer(0, ANY_COUNT),
  responseInformation: { type: 'string' },
  serverReference: { type: 'string' },
  maxConnectPacketSize: integer(2, 268_435_455),
  maxUserProperties: integer(0, ANY_COUNT),
  reasonStrings: { type: 'boolean' },
  maxTopicAliasBytes: integer(0, ANY_COUNT),
  maxRetainedMessages: integer(0, ANY_COUNT),
  maxRetainedBytes: integer(0, ANY_COUNT),
  maxSessions: integer(0, ANY_COUNT),
}

export type BrokerOptionName = keyof typeof BROKER_OPTION_RULES

/** A `createBroker` option of the wrong type or range; `option` names it. */
export class BrokerOptionError extends UsageError {
  override name = 'BrokerOptionError'
  declare readonly code: typeof ErrorCode.InvalidOption

  constructor(
    readonly option: string,
    message: string,
  ) {
    super(ErrorCode.InvalidOption, message)
  }
}

const describe = (value: unknown): string =>
  typeof value === 'string' ? JSON.stringify(value) : typeof value === 'function' ? 'a function' : String(JSON.stringify(value) ?? value)

/** What is wrong with `value` for `rule`, as the end of a sentence naming the option; undefined when it is fine. */
export function optionRuleProblem(rule: OptionRule, value: unknown): string | undefined {
  switch (rule.type) {
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value) && value >= rule.min && value <= rule.max
        ? undefined
        : `must be an integer from ${rule.min} to ${rule.max}, got ${describe(value)}`
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `must be true or false, got ${describe(value)}`
    case 'string':
      if (typeof value !== 'string') return `must be a string, got ${describe(value)}`
      return rule.nonEmpty && value.length === 0 ? 'must not be empty' : undefined
    case 'enum':
      return rule.values.includes(value as string) || (rule.orFunction === true && typeof value === 'function')
        ? undefined
        : `must be one of ${rule.values.map((v) => JSON.stringify(v)).join(', ')}${rule.orFunction ? ' or a function' : ''}, got ${describe(value)}`
    case 'function':
      return typeof value === 'function' ? undefined : `must be a function, got ${describe(value)}`
    case 'object': {
      if (value === null || typeof value !== 'object') return `must be an object, got ${describe(value)}`
      const missing = rule.methods?.filter((method) => typeof (value as Record<string, unknown>)[method] !== 'function')
      return missing && missing.length > 0 ? `must have the methods ${missing.join(', ')}` : undefined
    }
  }
}

/**
 * Checks `createBroker` options for callers without TypeScript: an unknown option, or a value of the wrong
 * type or range, throws a `BrokerOptionError` naming it. Undefined values count as absent.
 */
export function validateBrokerOptions(options: unknown): void {
  if (options === undefined) return
  if (options === null || typeof options !== 'object') {
    throw new BrokerOptionError('options', `createBroker options must be an object, got ${describe(options)}`)
  }
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined) continue
    const rule = (BROKER_OPTION_RULES as Record<string, OptionRule | undefined>)[name]
    if (rule === undefined) throw new BrokerOptionError(name, `createBroker option ${name} is not a known option`)
    const problem = optionRuleProblem(rule, value)
    if (problem !== undefined) throw new BrokerOptionError(name, `createBroker option ${name} ${problem}`)
  }
}
