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
 * An error that ends one client's connection: `reasonCode` goes into the v5 DISCONNECT.
 * `code` is stable for hosts to switch on.
 */
export class ProtocolViolation extends Error {
  readonly code: string
  readonly reasonCode: number
  constructor(code: string, reasonCode: number, message: string) {
    super(message)
    this.name = 'ProtocolViolation'
    this.code = code
    this.reasonCode = reasonCode
  }
}

export function protocolError(message: string, code = 'WREN_PROTOCOL_ERROR'): ProtocolViolation {
  return new ProtocolViolation(code, ReasonCode.ProtocolError, message)
}

export function malformed(message: string): ProtocolViolation {
  return new ProtocolViolation('WREN_MALFORMED_PACKET', ReasonCode.MalformedPacket, message)
}
