import { ReasonCode, type ClientInfo, type Denial, type Hooks } from '@wren/core'
import { clientAcl, readAclFile, readAclFileSync, type Acl, type ClientAcl } from './acl-file.js'
import { LoginGuard, type LoginGuardOptions } from './login-guard.js'
import { readPasswordFile, readPasswordFileSync, type PasswordFile } from './password-file.js'

export interface FileAuthOptions extends LoginGuardOptions {
  /** Password file (`wren passwd`'s format, or Mosquitto's): clients must log in as a user listed there. */
  passwordFile?: string
  /** Mosquitto ACL file: clients may only publish, subscribe and receive what it grants. */
  aclFile?: string
  /** Let clients connect without a user name. Defaults to true without a password file, false with one. */
  allowAnonymous?: boolean
}

export interface FileAuth {
  /** Pass to `createBroker({ hooks })`; the functions stay the same across reloads. */
  readonly hooks: Partial<Hooks>
  /** Reads both files again (for SIGHUP). On an error it rejects and the files loaded before stay in force. */
  reload(): Promise<void>
}

interface Loaded {
  passwords: PasswordFile | undefined
  acl: Acl | undefined
  /** Per connection, so a delivery costs no pattern substitution; replaced with the ACL on reload. */
  clients: WeakMap<ClientInfo, { id: string; username: string | undefined; acl: ClientAcl }>
}

const NOT_AUTHORIZED: Denial = { ok: false, reasonCode: ReasonCode.NotAuthorized, reason: 'not authorized' }
const ANONYMOUS_REFUSED: Denial = { ok: false, reasonCode: ReasonCode.NotAuthorized, reason: 'a user name is required' }

/**
 * Authentication and authorization from a Mosquitto-style password file and ACL file. The files are read once
 * here (synchronously, so a broken file fails before the broker starts) and again on `reload()`.
 *
 * Grants answer `undefined` ("no objection, ask the next hook") so hooks added after these can still refuse or
 * rewrite; refusals answer at once. A successful login answers `{ ok: true }`.
 */
export function createFileAuth(options: FileAuthOptions): FileAuth {
  const { passwordFile, aclFile } = options
  const allowAnonymous = options.allowAnonymous ?? passwordFile === undefined
  let loaded: Loaded = {
    passwords: passwordFile === undefined ? undefined : readPasswordFileSync(passwordFile),
    acl: aclFile === undefined ? undefined : readAclFileSync(aclFile),
    clients: new WeakMap(),
  }
  let generation = 0

  // Only called from the authorize hooks, which exist only when an ACL file is loaded.
  const aclFor = (client: ClientInfo): ClientAcl => {
    const cached = loaded.clients.get(client)
    if (cached !== undefined && cached.id === client.id && cached.username === client.username) return cached.acl
    const compiled = clientAcl(loaded.acl as Acl, { clientId: client.id, username: client.username })
    loaded.clients.set(client, { id: client.id, username: client.username, acl: compiled })
    return compiled
  }

  const hooks: Partial<Hooks> = {}
  const guard = new LoginGuard(options)
  if (passwordFile !== undefined || !allowAnonymous) {
    hooks.authenticate = async (client, credentials) => {
      if (credentials.username === undefined) return allowAnonymous ? undefined : ANONYMOUS_REFUSED
      const { passwords } = loaded
      if (passwords === undefined) return undefined
      const outcome = await guard.check(client, passwords, credentials.username, credentials.password)
      return outcome === true ? { ok: true } : outcome
    }
  }
  if (aclFile !== undefined) {
    hooks.authorizePublish = (client, message) => (aclFor(client).canWrite(message.topic) ? undefined : NOT_AUTHORIZED)
    hooks.authorizeSubscribe = (client, subscription) =>
      aclFor(client).canSubscribe(subscription.filter) ? undefined : NOT_AUTHORIZED
    hooks.authorizeForward = (client, message) => (aclFor(client).canRead(message.topic) ? undefined : false)
  }

  return {
    hooks,
    async reload() {
      const mine = ++generation
      const [passwords, acl] = await Promise.all([
        passwordFile === undefined ? undefined : readPasswordFile(passwordFile),
        aclFile === undefined ? undefined : readAclFile(aclFile),
      ])
      // Two overlapping reloads: the later one's files win even if the earlier one finishes last.
      if (mine === generation) loaded = { passwords, acl, clients: new WeakMap() }
    },
  }
}
