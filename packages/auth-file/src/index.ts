export { createFileAuth, type FileAuth, type FileAuthOptions } from './hooks.js'
export {
  checkPassword,
  deletePassword,
  parsePasswordFile,
  readPasswordFile,
  readPasswordFileSync,
  setPassword,
  usernameProblem,
  type PasswordFile,
} from './password-file.js'
export { hashPassword, parsePasswordHash, verifyPassword, SCRYPT_DEFAULTS, type PasswordHash } from './password-hash.js'
export {
  clientAcl,
  parseAcl,
  readAclFile,
  readAclFileSync,
  type Acl,
  type AclAccess,
  type AclRule,
  type AclSubject,
  type ClientAcl,
} from './acl-file.js'
export { filterCovers } from './filter-covers.js'
export { runPasswd, runPasswdCli, PASSWD_USAGE, type PasswdIo } from './passwd-command.js'
export { AuthFileError, AuthFileErrorCode } from './auth-file-error.js'
