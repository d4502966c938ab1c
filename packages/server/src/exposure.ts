import type { HookOptions } from '@wren/core'
import { ConfigError, type ServerConfig } from './config.js'
import { listenerName } from './listener-config.js'

export interface Exposure {
  /** The address the listeners bind. */
  host: string
  /** Logged at start when the server chose loopback for the user. */
  warning: string | undefined
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/

/** Whether `host` is only reachable from this machine. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host)
}

/**
 * Safe defaults, as Mosquitto 2 has them: without authentication and without a configured host the server
 * listens on loopback only; a public address with anonymous access must be asked for (`allowAnonymous`); an
 * ACL file needs authenticated user names, or `trustClientUsernames` saying the user names clients send are
 * believed.
 */
export function resolveExposure(config: ServerConfig, hooks: HookOptions): Exposure {
  const authenticated = config.passwordFile !== undefined || hooks.authenticate !== undefined
  if (config.aclFile !== undefined && !authenticated && !config.certCnAsUsername && !config.trustClientUsernames) {
    throw new ConfigError(
      'aclFile without passwordFile would apply the rules of whatever user name a client claims: add passwordFile, or trustClientUsernames (--trust-client-usernames) if that is what you want',
    )
  }
  const anonymous = !authenticated
  config.listeners.forEach((listener, index) => {
    const open = anonymous && listener.passwordFile === undefined && !config.allowAnonymous
    if (open && listener.host !== undefined && !LOOPBACK.test(listener.host)) {
      throw new ConfigError(
        `${listenerName(index)} on ${listener.host} with no authentication would let anyone connect: give it a passwordFile, or set allowAnonymous (--allow-anonymous)`,
      )
    }
  })
  if (config.host === undefined) {
    if (!anonymous || config.allowAnonymous) return { host: '0.0.0.0', warning: undefined }
    return {
      host: '127.0.0.1',
      warning:
        'no authentication configured: listening on loopback only. To accept remote clients, add passwordFile (--password-file), or set host (--host 0.0.0.0) with allowAnonymous (--allow-anonymous)',
    }
  }
  if (anonymous && !config.allowAnonymous && !isLoopback(config.host)) {
    throw new ConfigError(
      `host ${config.host} with no authentication would let anyone connect: add passwordFile (--password-file), or allowAnonymous (--allow-anonymous) to accept anonymous clients there`,
    )
  }
  return { host: config.host, warning: undefined }
}
