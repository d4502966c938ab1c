import { type AdminErrorCode, ErrorCode } from '@wren/core'

/**
 * The codes the admin API answers with in `{ "error": { "code" } }` (docs/errors.md, docs/observability.md): its own,
 * and those of the core's `AdminError`s it passes on.
 */
export const ApiErrorCode = {
  BadRequest: 'WREN_BAD_REQUEST',
  Unauthorized: 'WREN_UNAUTHORIZED',
  NotFound: 'WREN_NOT_FOUND',
  MethodNotAllowed: 'WREN_METHOD_NOT_ALLOWED',
  ClientNotFound: ErrorCode.ClientNotFound,
  SessionNotFound: ErrorCode.SessionNotFound,
  RetainedNotFound: 'WREN_RETAINED_NOT_FOUND',
  BridgeNotFound: 'WREN_BRIDGE_NOT_FOUND',
  GatewayNotFound: 'WREN_GATEWAY_NOT_FOUND',
  Internal: 'WREN_INTERNAL',
} as const

export type ApiErrorCode = (typeof ApiErrorCode)[keyof typeof ApiErrorCode] | AdminErrorCode

/** An error the API answers with: `{ "error": { "code", "message" } }` and an HTTP status. */
export class ApiError extends Error {
  override name = 'ApiError'
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message)
  }
}
