import { BridgeErrorCode } from './bridge-errors.js'
import { topicFilterProblem, topicMatches, type QoS } from '@wren/core'

export type BridgeDirection = 'out' | 'in' | 'both'

/** One `topic` line of a bridge: what crosses, which way, at most which QoS, and how it is renamed. */
export interface BridgeTopic {
  /** A topic filter, or '' when both prefixes are full topic names (one topic remapped to another). */
  pattern: string
  /** Default 'out' (local to remote). */
  direction?: BridgeDirection
  /** The QoS used to subscribe on the side the messages come from: the most a message keeps. Default 0. */
  qos?: QoS
  /** Prepended on the local side; removed from local topics before the remote prefix is added. Default ''. */
  localPrefix?: string
  /** Prepended on the remote side; removed from remote topics before the local prefix is added. Default ''. */
  remotePrefix?: string
}

/** A validated rule with the two full filters it subscribes to. */
export interface TopicRule {
  readonly direction: BridgeDirection
  readonly qos: QoS
  readonly localPrefix: string
  readonly remotePrefix: string
  /** localPrefix + pattern: what the bridge subscribes to locally for 'out'. */
  readonly localFilter: string
  /** remotePrefix + pattern: what the bridge subscribes to remotely for 'in'. */
  readonly remoteFilter: string
}

/** A topic rule that cannot be bridged: a bad pattern, prefix, direction or QoS. */
export class TopicRuleError extends Error {
  override name = 'TopicRuleError'
  readonly code = BridgeErrorCode.TopicInvalid
}

function checkPrefix(prefix: string, side: string): void {
  if (prefix.includes('+') || prefix.includes('#')) throw new TopicRuleError(`${side} prefix '${prefix}' must not contain wildcards`)
  if (prefix.includes('\u0000')) throw new TopicRuleError(`${side} prefix must not contain U+0000`)
}

function checkFilter(filter: string, side: string): void {
  const problem = topicFilterProblem(filter)
  if (problem) throw new TopicRuleError(`${side} topic '${filter}': ${problem}`)
  if (filter.startsWith('$share/')) throw new TopicRuleError(`${side} topic '${filter}': shared subscriptions cannot be bridged`)
}

/**
 * Validates a rule as Mosquitto does: prefixes have no wildcards, the empty pattern needs both prefixes
 * (it then maps one local topic to one remote topic), and both full filters must be valid.
 */
export function topicRule(topic: BridgeTopic): TopicRule {
  const direction = topic.direction ?? 'out'
  if (direction !== 'out' && direction !== 'in' && direction !== 'both') throw new TopicRuleError(`direction must be out, in or both, got '${String(direction)}'`)
  const qos = topic.qos ?? 0
  if (qos !== 0 && qos !== 1 && qos !== 2) throw new TopicRuleError(`QoS must be 0, 1 or 2, got '${String(qos)}'`)
  const localPrefix = topic.localPrefix ?? ''
  const remotePrefix = topic.remotePrefix ?? ''
  checkPrefix(localPrefix, 'local')
  checkPrefix(remotePrefix, 'remote')
  if (topic.pattern === '' && (localPrefix === '' || remotePrefix === '')) {
    throw new TopicRuleError('an empty topic pattern needs both a local and a remote prefix')
  }
  const localFilter = localPrefix + topic.pattern
  const remoteFilter = remotePrefix + topic.pattern
  checkFilter(localFilter, 'local')
  checkFilter(remoteFilter, 'remote')
  return { direction, qos, localPrefix, remotePrefix, localFilter, remoteFilter }
}

/** The rules of one bridge, and the renaming of a topic from one side to the other. */
export class TopicMap {
  readonly rules: readonly TopicRule[]

  constructor(topics: readonly BridgeTopic[]) {
    this.rules = topics.map(topicRule)
  }

  /** Local filters to subscribe to (direction out/both), one per distinct filter at the highest QoS asked. */
  localSubscriptions(): Array<{ filter: string; qos: QoS }> {
    return distinctFilters(this.rules.filter((rule) => rule.direction !== 'in').map((rule) => ({ filter: rule.localFilter, qos: rule.qos })))
  }

  /** Remote filters to subscribe to (direction in/both). */
  remoteSubscriptions(): Array<{ filter: string; qos: QoS }> {
    return distinctFilters(this.rules.filter((rule) => rule.direction !== 'out').map((rule) => ({ filter: rule.remoteFilter, qos: rule.qos })))
  }

  /** Remote filters of 'out'-only rules: unsubscribed on the remote in case an earlier configuration had them 'in'. */
  outOnlyRemoteFilters(): string[] {
    return [...new Set(this.rules.filter((rule) => rule.direction === 'out').map((rule) => rule.remoteFilter))]
  }

  /** The remote topic for a local topic, by the first out/both rule that matches; undefined if none. */
  toRemote(localTopic: string): string | undefined {
    for (const rule of this.rules) {
      if (rule.direction === 'in' || !topicMatches(rule.localFilter, localTopic)) continue
      return rule.remotePrefix + localTopic.slice(rule.localPrefix.length)
    }
    return undefined
  }

  /** The local topic for a remote topic, by the first in/both rule that matches; undefined if none. */
  toLocal(remoteTopic: string): string | undefined {
    for (const rule of this.rules) {
      if (rule.direction === 'out' || !topicMatches(rule.remoteFilter, remoteTopic)) continue
      return rule.localPrefix + remoteTopic.slice(rule.remotePrefix.length)
    }
    return undefined
  }
}

function distinctFilters(entries: Array<{ filter: string; qos: QoS }>): Array<{ filter: string; qos: QoS }> {
  const byFilter = new Map<string, QoS>()
  for (const { filter, qos } of entries) byFilter.set(filter, Math.max(qos, byFilter.get(filter) ?? 0) as QoS)
  return [...byFilter].map(([filter, qos]) => ({ filter, qos }))
}
