import { BridgeErrorCode } from './bridge-errors.js'
import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { parseAddress, resolveBridgeOptions, type BridgeOptions, type BridgeTls } from './options.js'
import { topicRule, type BridgeDirection, type BridgeTopic } from './topic-map.js'
import type { LinkVersion } from './mqtt-link.js'

/** A line of a bridge file Wren cannot use: names the file, the line (from 1) and why. */
export class BridgeFileError extends Error {
  override name = 'BridgeFileError'
  readonly code = BridgeErrorCode.FileInvalid
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${reason}`)
  }
}

type Directive = (block: BridgeOptions, args: string[], rest: string, baseDir: string) => void

class LineError extends Error {}

function one(args: string[], what: string): string {
  if (args.length !== 1) throw new LineError(`expects one value (${what}), got ${args.length}`)
  return args[0] as string
}

function bool(args: string[]): boolean {
  const value = one(args, 'true or false')
  if (value !== 'true' && value !== 'false') throw new LineError(`expects true or false, got '${value}'`)
  return value === 'true'
}

function int(args: string[], min: number): number {
  const value = one(args, 'a number')
  if (!/^\d+$/.test(value) || Number(value) < min) throw new LineError(`expects a whole number of at least ${min}, got '${value}'`)
  return Number(value)
}

/** Passwords, client ids and topics run to the end of the line, as Mosquitto reads them. */
function text(rest: string): string {
  if (rest === '') throw new LineError('expects a value')
  return rest
}

function choice<T extends string>(args: string[], choices: readonly T[]): T {
  const value = one(args, choices.join(', '))
  if (!choices.includes(value as T)) throw new LineError(`expects one of ${choices.join(', ')}, got '${value}'`)
  return value as T
}

const VERSIONS: Record<string, LinkVersion> = { mqttv31: 3, mqttv311: 4, mqttv50: 5 }
const DIRECTIONS: readonly BridgeDirection[] = ['out', 'in', 'both']
const unquote = (token: string): string => (token === '""' ? '' : token)

/** `topic pattern [[[out|in|both] qos] local-prefix remote-prefix]`, checked as Mosquitto checks it. */
function topicLine(args: string[]): BridgeTopic {
  if (args.length === 0 || args.length === 4 || args.length > 5) {
    throw new LineError('expects: topic <pattern> [[[out|in|both] <qos>] <local-prefix> <remote-prefix>]')
  }
  const [pattern, direction, qos, localPrefix, remotePrefix] = args as [string, ...Array<string | undefined>]
  const topic: BridgeTopic = { pattern: unquote(pattern) }
  if (direction !== undefined) {
    if (!DIRECTIONS.includes(direction as BridgeDirection)) throw new LineError(`direction must be out, in or both, got '${direction}'`)
    topic.direction = direction as BridgeDirection
  }
  if (qos !== undefined) {
    if (qos !== '0' && qos !== '1' && qos !== '2') throw new LineError(`QoS must be 0, 1 or 2, got '${qos}'`)
    topic.qos = Number(qos) as 0 | 1 | 2
  }
  if (localPrefix !== undefined) topic.localPrefix = unquote(localPrefix)
  if (remotePrefix !== undefined) topic.remotePrefix = unquote(remotePrefix)
  topicRule(topic)
  return topic
}

const tls = (block: BridgeOptions): BridgeTls => (block.tls ??= {})

const DIRECTIVES: Record<string, Directive> = {
  address: (b, args) => {
    if (args.length === 0) throw new LineError('expects host[:port] ...')
    b.addresses.push(...args.flatMap((arg) => arg.split(',').filter((address) => address !== '')).map((address) => parseAddress(address)))
  },
  round_robin: (b, args) => (b.roundRobin = bool(args)),
  bridge_bind_address: (b, args) => (b.bindAddress = one(args, 'an IP address')),
  topic: (b, args) => b.topics.push(topicLine(args)),
  bridge_protocol_version: (b, args) => (b.protocolVersion = VERSIONS[choice(args, Object.keys(VERSIONS))]),
  try_private: (b, args) => (b.tryPrivate = bool(args)),
  cleansession: (b, args) => (b.cleanSession = bool(args)),
  local_cleansession: (b, args) => (b.localCleanSession = bool(args)),
  remote_clientid: (b, _args, rest) => (b.remoteClientId = text(rest)),
  local_clientid: (b, _args, rest) => (b.localClientId = text(rest)),
  remote_username: (b, _args, rest) => (b.remoteUsername = text(rest)),
  remote_password: (b, _args, rest) => (b.remotePassword = text(rest)),
  local_username: (b, _args, rest) => (b.localUsername = text(rest)),
  local_password: (b, _args, rest) => (b.localPassword = text(rest)),
  notifications: (b, args) => (b.notifications = bool(args)),
  notifications_local_only: (b, args) => (b.notificationsLocalOnly = bool(args)),
  notification_topic: (b, _args, rest) => (b.notificationTopic = text(rest)),
  keepalive_interval: (b, args) => (b.keepalive = int(args, 5)),
  restart_timeout: (b, args) => {
    if (args.length === 1) b.restartTimeout = int(args, 1)
    else if (args.length === 2) {
      const base = int([args[0] as string], 1)
      const cap = int([args[1] as string], 1)
      if (cap < base) throw new LineError(`cap ${cap} is below base ${base}`)
      b.restartTimeout = { base, cap }
    } else throw new LineError('expects <seconds> or <base> <cap>')
  },
  start_type: (b, args) => (b.startType = choice(args, ['automatic', 'lazy', 'once'] as const)),
  idle_timeout: (b, args) => (b.idleTimeout = int(args, 1)),
  threshold: (b, args) => (b.threshold = int(args, 1)),
  bridge_attempt_unsubscribe: (b, args) => (b.attemptUnsubscribe = bool(args)),
  bridge_outgoing_retain: (b, args) => (b.outgoingRetain = bool(args)),
  bridge_fatal_sub_errors: (b, args) => (b.fatalSubErrors = bool(args)),
  bridge_max_packet_size: (b, args) => (b.maxPacketSize = int(args, 0)),
  bridge_cafile: (b, _args, rest, dir) => (tls(b).cafile = resolve(dir, text(rest))),
  bridge_capath: (b, _args, rest, dir) => (tls(b).capath = resolve(dir, text(rest))),
  bridge_certfile: (b, _args, rest, dir) => (tls(b).certfile = resolve(dir, text(rest))),
  bridge_keyfile: (b, _args, rest, dir) => (tls(b).keyfile = resolve(dir, text(rest))),
  bridge_insecure: (b, args) => (tls(b).insecure = bool(args)),
  bridge_tls_version: (b, args) => (tls(b).version = choice(args, ['tlsv1.1', 'tlsv1.2', 'tlsv1.3'] as const)),
  bridge_alpn: (b, _args, rest) => (tls(b).alpn = text(rest)),
  bridge_identity: (b, _args, rest) => (tls(b).identity = text(rest)),
  bridge_psk: (b, args) => (tls(b).psk = one(args, 'a key in hexadecimal')),
  bridge_require_ocsp: (b, args) => (tls(b).requireOcsp = bool(args)),
}
// Mosquitto's older names, still accepted by it
DIRECTIVES.addresses = DIRECTIVES.address as Directive
DIRECTIVES.clientid = DIRECTIVES.remote_clientid as Directive
DIRECTIVES.username = DIRECTIVES.remote_username as Directive
DIRECTIVES.password = DIRECTIVES.remote_password as Directive

/**
 * Parses the `connection` blocks of a mosquitto.conf (Mosquitto's bridge syntax, every bridge directive of
 * mosquitto.conf(5)). Relative certificate paths are taken from the file's directory. Throws BridgeFileError
 * naming the line at the first problem.
 */
export function parseBridgeFile(source: string, file: string): BridgeOptions[] {
  const baseDir = dirname(resolve(file))
  const blocks: BridgeOptions[] = []
  const startLines: number[] = []
  const finish = (): void => {
    const block = blocks.at(-1)
    if (!block) return
    try {
      resolveBridgeOptions(block)
    } catch (error) {
      throw new BridgeFileError(file, startLines.at(-1) as number, `connection ${block.name}: ${(error as Error).message}`)
    }
  }
  const lines = source.split(/\r?\n/)
  for (let index = 0; index < lines.length; index++) {
    const line = (lines[index] as string).trim()
    if (line === '' || line.startsWith('#')) continue
    const number = index + 1
    const [directive, ...args] = line.split(/\s+/) as [string, ...string[]]
    const rest = line.slice(directive.length).trim()
    if (directive === 'connection') {
      finish()
      if (args.length !== 1) throw new BridgeFileError(file, number, 'connection expects one name')
      const name = args[0] as string
      if (blocks.some((block) => block.name === name)) throw new BridgeFileError(file, number, `connection ${name} is defined twice`)
      blocks.push({ name, addresses: [], topics: [] })
      startLines.push(number)
      continue
    }
    const handler = DIRECTIVES[directive]
    if (!handler) {
      throw new BridgeFileError(file, number, `unknown directive '${directive}'`)
    }
    const block = blocks.at(-1)
    if (!block) throw new BridgeFileError(file, number, `${directive} outside a connection block (a 'connection <name>' line must come first)`)
    try {
      handler(block, args, rest, baseDir)
    } catch (error) {
      throw new BridgeFileError(file, number, `${directive}: ${(error as Error).message}`)
    }
  }
  finish()
  return blocks
}

/** Reads and parses a bridge file; a missing or unreadable file is a BridgeFileError at line 0. */
export async function readBridgeFile(file: string): Promise<BridgeOptions[]> {
  let source: string
  try {
    source = await readFile(file, 'utf8')
  } catch (error) {
    throw new BridgeFileError(file, 0, `cannot read the bridge file: ${(error as Error).message}`)
  }
  return parseBridgeFile(source, file)
}
