export { Bridge, createBridge, type BridgeEvents, type BridgeState, type BridgeStats } from './bridge.js'
export {
  BridgeOptionsError,
  parseAddress,
  resolveBridgeOptions,
  type BridgeAddress,
  type BridgeOptions,
  type BridgeTls,
  type ResolvedBridgeOptions,
  type StartType,
} from './options.js'
export { TopicMap, TopicRuleError, topicRule, type BridgeDirection, type BridgeTopic, type TopicRule } from './topic-map.js'
export { Backoff, type RestartTimeout } from './backoff.js'
export { HOPS_PROPERTY } from './message-properties.js'
export { BridgeFileError, parseBridgeFile, readBridgeFile } from './mosquitto-bridge-file.js'
export type { BridgeLease } from './lease.js'
export { BridgeErrorCode } from './bridge-errors.js'
