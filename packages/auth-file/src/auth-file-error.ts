export type AuthFileErrorCode =
  | 'WREN_PASSWORD_FILE_INVALID'
  | 'WREN_PASSWORD_HASH_INVALID'
  | 'WREN_USERNAME_INVALID'
  | 'WREN_ACL_FILE_INVALID'

/** A password or ACL file that cannot be used as written; `line` is 1-based when the problem is on one line. */
export class AuthFileError extends Error {
  readonly code: AuthFileErrorCode
  readonly file: string | undefined
  readonly line: number | undefined
  /** The message without the code and location. */
  readonly detail: string

  constructor(code: AuthFileErrorCode, message: string, location: { file?: string; line?: number } = {}) {
    const where = location.file === undefined ? '' : `${location.file}${location.line === undefined ? '' : `:${location.line}`}: `
    super(`${code}: ${where}${message}`)
    this.name = 'AuthFileError'
    this.code = code
    this.file = location.file
    this.line = location.line
    this.detail = message
  }
}
