/** The codes an `AuthFileError` carries (docs/errors.md): hosts switch on `error.code`. */
export const AuthFileErrorCode = {
  PasswordFileInvalid: 'WREN_PASSWORD_FILE_INVALID',
  PasswordHashInvalid: 'WREN_PASSWORD_HASH_INVALID',
  UsernameInvalid: 'WREN_USERNAME_INVALID',
  AclFileInvalid: 'WREN_ACL_FILE_INVALID',
} as const

export type AuthFileErrorCode = (typeof AuthFileErrorCode)[keyof typeof AuthFileErrorCode]

/** A password or ACL file that cannot be used as written; `line` is 1-based when the problem is on one line. */
export class AuthFileError extends Error {
  override name = 'AuthFileError'
  readonly file: string | undefined
  readonly line: number | undefined
  /** The message without the location. */
  readonly detail: string

  constructor(
    readonly code: AuthFileErrorCode,
    message: string,
    location: { file?: string; line?: number } = {},
  ) {
    const where = location.file === undefined ? '' : `${location.file}${location.line === undefined ? '' : `:${location.line}`}: `
    super(`${where}${message}`)
    this.file = location.file
    this.line = location.line
    this.detail = message
  }
}
