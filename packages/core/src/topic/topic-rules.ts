/**
 * Topic name and filter rules, checked once where a packet enters so the router can trust what it gets.
 * Clause ids refer to MQTT 3.1.1 section 4.7 and MQTT 5.0 section 4.7 / 4.8.2.
 */

export interface TopicLimits {
  /** Bytes of UTF-8; the protocol's own ceiling is 65535. */
  maxLength: number
  maxLevels: number
}

export const DEFAULT_TOPIC_LIMITS: TopicLimits = { maxLength: 65535, maxLevels: 128 }

export type TopicProblem =
  | 'empty'
  | 'too-long'
  | 'too-many-levels'
  | 'wildcard-in-name'
  | 'bad-wildcard'
  | 'null-character'
  | 'bad-shared-subscription'

const SHARE_PREFIX = '$share/'

function commonProblem(topic: string, limits: TopicLimits): TopicProblem | undefined {
  if (topic.length === 0) return 'empty' // [MQTT-4.7.3-1]
  // Length in code units bounds bytes from below: only encode when it could matter.
  if (topic.length * 3 > limits.maxLength && Buffer.byteLength(topic) > limits.maxLength) return 'too-long'
  // Ill-formed UTF-8 from the wire is refused on its bytes (connection/wire-rules.ts): U+FFFD here is a valid character.
  if (topic.includes('\u0000')) return 'null-character' // [MQTT-4.7.3-2]
  return undefined
}

function countLevels(topic: string): number {
  let levels = 1
  for (let i = 0; i < topic.length; i++) if (topic.charCodeAt(i) === 47 /* / */) levels++
  return levels
}

/** Checks a PUBLISH topic name; returns what is wrong with it, or undefined. */
export function topicNameProblem(topic: string, limits: TopicLimits = DEFAULT_TOPIC_LIMITS): TopicProblem | undefined {
  const problem = commonProblem(topic, limits)
  if (problem) return problem
  if (topic.includes('+') || topic.includes('#')) return 'wildcard-in-name' // [MQTT-3.3.2-2]
  if (countLevels(topic) > limits.maxLevels) return 'too-many-levels'
  return undefined
}

/** Checks a SUBSCRIBE / UNSUBSCRIBE filter, `$share/<group>/<filter>` included. */
export function topicFilterProblem(filter: string, limits: TopicLimits = DEFAULT_TOPIC_LIMITS): TopicProblem | undefined {
  const problem = commonProblem(filter, limits)
  if (problem) return problem
  let body = filter
  if (filter.startsWith(SHARE_PREFIX)) {
    const shared = parseSharedFilter(filter)
    if (!shared) return 'bad-shared-subscription' // [MQTT-4.8.2-1] [MQTT-4.8.2-2]
    body = shared.filter
  }
  const levels = body.split('/')
  if (levels.length > limits.maxLevels) return 'too-many-levels'
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as string
    if (level.length <= 1) {
      if (level === '#' && i !== levels.length - 1) return 'bad-wildcard' // [MQTT-4.7.1-2]
      continue
    }
    if (level.includes('#') || level.includes('+')) return 'bad-wildcard' // [MQTT-4.7.1-2] [MQTT-4.7.1-3]
  }
  return undefined
}

export interface SharedFilter {
  group: string
  filter: string
}

/** Splits `$share/<group>/<filter>`; undefined when the filter is not a well-formed shared one. */
export function parseSharedFilter(filter: string): SharedFilter | undefined {
  if (!filter.startsWith(SHARE_PREFIX)) return undefined
  const slash = filter.indexOf('/', SHARE_PREFIX.length)
  if (slash === -1) return undefined
  const group = filter.slice(SHARE_PREFIX.length, slash)
  const rest = filter.slice(slash + 1)
  if (group.length === 0 || rest.length === 0 || group.includes('+') || group.includes('#')) return undefined
  return { group, filter: rest }
}

/** The broker's own namespace: clients may not publish there, as messages or as wills. */
export function isSysTopic(topic: string): boolean {
  return topic === '$SYS' || topic.startsWith('$SYS/')
}

/**
 * Where another broker's bridge (a client with the bridge bit) says whether it is connected, as a message and
 * as its will: the one part of `$SYS` open to it (Mosquitto's `$SYS/broker/connection/<id>/state`).
 */
export function isBridgeStateTopic(topic: string): boolean {
  return topic.startsWith('$SYS/broker/connection/')
}

export function isSharedFilter(filter: string): boolean {
  return filter.startsWith(SHARE_PREFIX)
}

export function hasWildcard(filter: string): boolean {
  return filter.includes('+') || filter.includes('#')
}

/** Whether a (valid, non-shared) filter matches a topic name; `$` topics are not matched by a leading wildcard. */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.charCodeAt(0) === 36 /* $ */ && (filter.charCodeAt(0) === 43 /* + */ || filter.charCodeAt(0) === 35) /* # */) {
    return false // [MQTT-4.7.2-1]
  }
  let f = 0
  let t = 0
  const fl = filter.length
  const tl = topic.length
  while (f < fl) {
    const fc = filter.charCodeAt(f)
    if (fc === 35 /* # */) return true // matches the parent level too: 'a/#' matches 'a' [MQTT-4.7.1-2]
    if (fc === 43 /* + */) {
      while (t < tl && topic.charCodeAt(t) !== 47) t++
      f++
    } else {
      if (t >= tl) {
        // Topic ended: only a trailing '/#' can still match.
        return fc === 47 && f + 2 === fl && filter.charCodeAt(f + 1) === 35
      }
      if (fc !== topic.charCodeAt(t)) return false
      f++
      t++
      continue
    }
    if (f < fl && t >= tl) {
      return filter.charCodeAt(f) === 47 && f + 2 === fl && filter.charCodeAt(f + 1) === 35
    }
  }
  return t === tl
}
