/** The codes of the errors `@wren/bridge` throws (docs/errors.md): hosts switch on `error.code`. */
export const BridgeErrorCode = {
  OptionInvalid: 'WREN_BRIDGE_OPTION_INVALID',
  TopicInvalid: 'WREN_BRIDGE_TOPIC_INVALID',
  FileInvalid: 'WREN_BRIDGE_FILE_INVALID',
} as const

export type BridgeErrorCode = (typeof BridgeErrorCode)[keyof typeof BridgeErrorCode]
