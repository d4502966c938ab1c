import { AuthFileError, createFileAuth, type FileAuth } from '@wren/auth-file'
import type { ClientInfo, HookName, HookOptions, Hooks } from '@wren/core'
import { ConfigError, type ServerConfig } from './config.js'
import { listenerName } from './listener-config.js'

export interface ServerAuth {
  hooks: HookOptions
  /** Reads the password and ACL files again; on an error it rejects and the files loaded before stay in force. */
  reload(): Promise<void>
  /** Whether there is anything to reload. */
  readonly hasFiles: boolean
}

/**
 * Mosquitto's `use_identity_as_username`: a client whose certificate the CA verified is logged in as the
 * certificate's subject CN, whatever user name and password it sent, and the hooks after this one (the
 * password file) do not run for it. A client without a verified certificate is left to them.
 */
export const certificateUsername: Hooks['authenticate'] = (_client, { certificate }) => {
  const cn = certificate?.subject?.CN
  return typeof cn === 'string' && cn.length > 0 ? { ok: true, username: cn } : undefined
}

function openFileAuth({ passwordFile, aclFile, allowAnonymous }: Pick<ServerConfig, 'passwordFile' | 'aclFile' | 'allowAnonymous'>): FileAuth | undefined {
  if (passwordFile === undefined && aclFile === undefined) return undefined
  try {
    return createFileAuth({
      ...(passwordFile === undefined ? {} : { passwordFile }),
      ...(aclFile === undefined ? {} : { aclFile }),
      ...(allowAnonymous ? { allowAnonymous: true } : {}),
    })
  } catch (error) {
    if (error instanceof AuthFileError) throw new ConfigError(`${error.code}: ${error.message}`)
    const failure = error as NodeJS.ErrnoException
    if (failure.code !== 'ENOENT' && failure.code !== 'EACCES') throw error
    const key = failure.path === aclFile ? 'aclFile' : 'passwordFile'
    const reason = failure.code === 'ENOENT' ? 'no such file' : 'permission denied'
    throw new ConfigError(`cannot read ${key} ${failure.path ?? ''}: ${reason}`)
  }
}

/** Chains hook sets name by name, earlier sets first. */
export function chainHooks(...sets: HookOptions[]): HookOptions {
  const chained: Partial<Record<HookName, unknown[]>> = {}
  for (const set of sets) {
    for (const [name, hooks] of Object.entries(set) as Array<[HookName, unknown]>) {
      if (hooks === undefined) continue
      ;(chained[name] ??= []).push(...(Array.isArray(hooks) ? hooks : [hooks]))
    }
  }
  return chained as HookOptions
}

/**
 * Listeners with a password or ACL file of their own: each gets its own file hooks (its files, the top-level
 * ones where it names none), chosen by `client.meta.listener`; other clients get the top-level hooks.
 */
function perListener(config: ServerConfig, shared: FileAuth | undefined): { hooks: Partial<Hooks>; files: FileAuth[] } {
  const own = new Map<unknown, FileAuth>()
  config.listeners.forEach((listener, index) => {
    if (listener.passwordFile === undefined && listener.aclFile === undefined) return
    const files = openFileAuth({
      passwordFile: listener.passwordFile ?? config.passwordFile,
      aclFile: listener.aclFile ?? config.aclFile,
      allowAnonymous: config.allowAnonymous,
    })
    if (files) own.set(listenerName(index), files)
  })
  if (own.size === 0) return { hooks: shared?.hooks ?? {}, files: shared ? [shared] : [] }
  const all = [...own.values(), ...(shared ? [shared] : [])]
  const names = new Set(all.flatMap((files) => Object.keys(files.hooks))) as Set<HookName>
  const hooks: Record<string, unknown> = {}
  for (const name of names) {
    hooks[name] = (client: ClientInfo, ...rest: unknown[]) => {
      const hook = (own.get(client.meta.listener) ?? shared)?.hooks[name] as ((...args: unknown[]) => unknown) | undefined
      return hook?.(client, ...rest)
    }
  }
  return { hooks: hooks as Partial<Hooks>, files: all }
}

/** The hooks the config asks for: the certificate CN as user name first, then the password and ACL files. */
export function createServerAuth(config: ServerConfig): ServerAuth {
  const { hooks, files } = perListener(config, openFileAuth(config))
  const own: HookOptions = config.certCnAsUsername ? { authenticate: certificateUsername } : {}
  return {
    hooks: chainHooks(own, hooks),
    hasFiles: files.length > 0,
    reload: () => Promise.all(files.map((file) => file.reload())).then(() => undefined),
  }
}
