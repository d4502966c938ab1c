export { createBroker, Broker } from './broker.js'
export {
  BROKER_OPTION_RULES,
  BrokerOptionError,
  optionRuleProblem,
  validateBrokerOptions,
  type BrokerOptionName,
  type OptionRule,
} from './options-validation.js'
export type { BrokerOptions, Logger, QueueFullPolicy, SharedMember, SharedSubscriptionStrategy } from './options.js'
export type { FullQueueAction, Holdable } from './session/session.js'
export type { BrokerEvents } from './events.js'
export type * from './types.js'
export type * from './hooks/hook-types.js'
export type * from './persistence/persistence.js'
export { MemoryPersistence, createMemoryPersistence } from './persistence/memory.js'
export { TopicTree } from './router/topic-tree.js'
export {
  topicMatches,
  topicNameProblem,
  topicFilterProblem,
  parseSharedFilter,
  isSharedFilter,
  type TopicProblem,
  type TopicLimits,
} from './topic/topic-rules.js'
export {
  ErrorCode,
  ProtocolViolation,
  ReasonCode,
  UsageError,
  type AdminErrorCode,
  type DisconnectReason,
  type ProtocolViolationCode,
  type UsageErrorCode,
  type WrenErrorCode,
} from './errors.js'
export type * from './cluster/cluster-bus.js'
export { encodeEnvelope, decodeEnvelope, messageHeader, messageFromHeader, type MessageHeader } from './persistence/message-envelope.js'
export { duplexPair } from './connection/duplex-pair.js'
export { encodeAck, encodePublishV4 } from './connection/packet-encoder.js'
export { messageProperties } from './handlers/message-from-packet.js'
export {
  AdminError,
  BrokerAdmin,
  type BrokerGauges,
  type ClientDetails,
  type SessionDetails,
  type SessionSummary,
  type SubscriptionEntry,
  type SubscriptionQuery,
} from './admin/broker-admin.js'
export type { ComponentMetric, ComponentSnapshot, ComponentStats } from './admin/component-stats.js'
export { BrokerStats, PACKET_TYPE_NAMES, type DropCounters, type PacketCounters } from './stats.js'
