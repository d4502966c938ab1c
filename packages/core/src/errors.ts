/** MQTT 5 reason codes (OASIS MQTT 5.0 §2.4), the one vocabulary the core uses for outcomes. */
export const ReasonCode = {
  Success: 0x00,
  GrantedQoS1: 0x01,
  GrantedQoS2: 0x02,
  DisconnectWithWill: 0x04,
  NoMatchingSubscribers: 0x10,
  NoSubscriptionExisted: 0x11,
  ContinueAuthentication: 0x18,
  ReAuthenticate: 0x19,
  UnspecifiedError: 0x80,
  MalformedPacket: 0x81,
  ProtocolError: 0x82,
  ImplementationSpecificError: 0x83,
  UnsupportedProtocolVersion: 0x84,
  ClientIdentifierNotValid: 0x85,
  BadUserNameOrPassword: 0x86,
  NotAuthorized: 0x87,
  ServerUnavailable: 0x88,
  ServerBusy: 0x89,
  Banned: 0x8a,
  ServerShuttingDown: 0x8b,
  BadAuthenticationMethod: 0x8c,
  KeepAliveTimeout: 0x8d,
  SessionTakenOver: 0x8e,
  TopicFilterInvalid: 0x8f,
  TopicNameInvalid: 0x90,
  PacketIdentifierInUse: 0x91,
  PacketIdentifierNotFound: 0x92,
  ReceiveMaximumExceeded: 0x93,
  TopicAliasInvalid: 0x94,
  PacketTooLarge: 0x95,
  MessageRateTooHigh: 0x96,
  QuotaExceeded: 0x97,
  AdministrativeAction: 0x98,
  PayloadFormatInvalid: 0x99,
  RetainNotSupported: 0x9a,
  QoSNotSupported: 0x9b,
  UseAnotherServer: 0x9c,
  ServerMoved: 0x9d,
  SharedSubscriptionsNotSupported: 0x9e,
  ConnectionRateExceeded: 0x9f,
  MaximumConnectTime: 0xa0,
  SubscriptionIdentifiersNotSupported: 0xa1,
  WildcardSubscriptionsNotSupported: 0xa2,
} as const

export type ReasonCodeValue = (typeof ReasonCode)[keyof typeof ReasonCode]

/** MQTT 3.1.1 CONNACK return codes (§3.2.2.3). */
export const ConnackV3 = {
  Accepted: 0,
  UnacceptableProtocolVersion: 1,
  IdentifierRejected: 2,
  ServerUnavailable: 3,
  BadUserNameOrPassword: 4,
  NotAuthorized: 5,
} as const

/** The nearest 3.1.1 CONNACK code for an MQTT 5 reason code. */
export function connackCodeForV3(reasonCode: number): number {
  switch (reasonCode) {
    case ReasonCode.Success:
      return ConnackV3.Accepted
    case ReasonCode.UnsupportedProtocolVersion:
      return ConnackV3.UnacceptableProtocolVersion
    case ReasonCode.ClientIdentifierNotValid:
      return ConnackV3.IdentifierRejected
    case ReasonCode.BadUserNameOrPassword:
    case ReasonCode.BadAuthenticationMethod:
      return ConnackV3.BadUserNameOrPassword
    case ReasonCode.NotAuthorized:
    case ReasonCode.Banned:
      return ConnackV3.NotAuthorized
    default:
      return ConnackV3.ServerUnavailable
  }
}

/**
 * Every code a Wren error carries in its `code` property: the one catalog (docs/errors.md explains each). Hosts
 * switch on `error.code`; the message is for people and may change.
 */
export const ErrorCode = {
  // A client broke the protocol: its connection ends (a `ProtocolViolation`, reported with `clientError`).
  MalformedPacket: 'WREN_MALFORMED_PACKET',
  ProtocolError: 'WREN_PROTOCOL_ERROR',
  UnsupportedProtocolVersion: 'WREN_UNSUPPORTED_PROTOCOL_VERSION',
  PacketTooLarge: 'WREN_PACKET_TOO_LARGE',
  ReceiveMaximumExceeded: 'WREN_RECEIVE_MAXIMUM_EXCEEDED',
  TopicAliasInvalid: 'WREN_TOPIC_ALIAS_INVALID',
  TopicAliasBytes: 'WREN_TOPIC_ALIAS_BYTES',
  TooManyUserProperties: 'WREN_TOO_MANY_USER_PROPERTIES',
  QosNotSupported: 'WREN_QOS_NOT_SUPPORTED',
  RetainNotSupported: 'WREN_RETAIN_NOT_SUPPORTED',
  PayloadFormatInvalid: 'WREN_PAYLOAD_FORMAT_INVALID',
  // A topic name that is not one: from a client (ProtocolViolation) or the host's `publish()` (UsageError).
  TopicNameInvalid: 'WREN_TOPIC_NAME_INVALID',
  // The host called the API wrongly: thrown (or rejected) at once as a `UsageError`, a TypeError.
  InvalidOption: 'WREN_INVALID_OPTION',
  HookUnknown: 'WREN_HOOK_UNKNOWN',
  HookNotFunction: 'WREN_HOOK_NOT_FUNCTION',
  TopicFilterInvalid: 'WREN_TOPIC_FILTER_INVALID',
  ComponentDuplicate: 'WREN_COMPONENT_DUPLICATE',
  ComponentMetricInvalid: 'WREN_COMPONENT_METRIC_INVALID',
  // An operator action that cannot be done: an `AdminError`.
  ClientNotFound: 'WREN_CLIENT_NOT_FOUND',
  SessionNotFound: 'WREN_SESSION_NOT_FOUND',
  OnOtherNode: 'WREN_ON_OTHER_NODE',
  TopicInvalid: 'WREN_TOPIC_INVALID',
} as const

/** The code of any error Wren's core throws, rejects with or reports. */
export type WrenErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/** The codes of a `ProtocolViolation`. */
export type ProtocolViolationCode =
  | typeof ErrorCode.MalformedPacket
  | typeof ErrorCode.ProtocolError
  | typeof ErrorCode.UnsupportedProtocolVersion
  | typeof ErrorCode.PacketTooLarge
  | typeof ErrorCode.ReceiveMaximumExceeded
  | typeof ErrorCode.TopicAliasInvalid
  | typeof ErrorCode.TopicAliasBytes
  | typeof ErrorCode.TooManyUserProperties
  | typeof ErrorCode.QosNotSupported
  | typeof ErrorCode.RetainNotSupported
  | typeof ErrorCode.PayloadFormatInvalid
  | typeof ErrorCode.TopicNameInvalid

/** The codes of a `UsageError`. */
export type UsageErrorCode =
  | typeof ErrorCode.InvalidOption
  | typeof ErrorCode.HookUnknown
  | typeof ErrorCode.HookNotFunction
  | typeof ErrorCode.TopicNameInvalid
  | typeof ErrorCode.TopicFilterInvalid
  | typeof ErrorCode.ComponentDuplicate
  | typeof ErrorCode.ComponentMetricInvalid

/** The codes of an `AdminError`. */
export type AdminErrorCode = typeof ErrorCode.ClientNotFound | typeof ErrorCode.SessionNotFound | typeof ErrorCode.OnOtherNode | typeof ErrorCode.TopicInvalid

/**
 * An error that ends one client's connection: `reasonCode` goes into the v5 DISCONNECT.
 * `code` is stable for hosts to switch on.
 */
export class ProtocolViolation extends Error {
  override name = 'ProtocolViolation'
  constructor(
    readonly code: ProtocolViolationCode,
    readonly reasonCode: number,
    message: string,
  ) {
    super(message)
  }
}

/** The host called the API wrongly (an option, a hook, a topic): a TypeError with a stable `code`. */
export class UsageError extends TypeError {
  override name = 'UsageError'
  constructor(
    readonly code: UsageErrorCode,
    message: string,
  ) {
    super(message)
  }
}

export function protocolError(message: string): ProtocolViolation {
  return new ProtocolViolation(ErrorCode.ProtocolError, ReasonCode.ProtocolError, message)
}

export function malformed(message: string): ProtocolViolation {
  return new ProtocolViolation(ErrorCode.MalformedPacket, ReasonCode.MalformedPacket, message)
}

/**
 * Why a connection ended, as `clientDisconnected` reports it: the client's own DISCONNECT, its stream, a protocol
 * violation, the broker's limits, an operator, or the broker closing.
 */
export type DisconnectReason =
  | 'disconnect'
  | 'socket-closed'
  | 'socket-error'
  | 'protocol-error'
  | 'unsupported-protocol-version'
  | 'connect-timeout'
  | 'connect-refused'
  | 'connack-too-large'
  | 'keepalive-timeout'
  | 'reauthentication-failed'
  | 'taken-over'
  | 'slow-consumer'
  | 'store-failed'
  | 'internal-error'
  | 'kicked'
  | 'session-deleted'
  | 'broker-not-ready'
  | 'broker-closing'
