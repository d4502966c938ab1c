import { listenerName } from './listener-config.js'
import type { ListenerAddress } from './listeners/listener.js'
import type { PersistenceSpec } from './persistence-spec.js'
import type { ServerConfig } from './settings.js'

/** A Redis URL fit for a log: its password replaced. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password === '') return url
    parsed.password = '***'
    return parsed.toString()
  } catch {
    return url
  }
}

function store(spec: PersistenceSpec): string {
  switch (spec.kind) {
    case 'memory':
      return 'in memory (sessions, queues and retained messages are lost when the server stops)'
    case 'sqlite':
      return `SQLite file ${spec.path}`
    case 'redis':
      return `Redis at ${redactUrl(spec.url)}`
  }
}

function clients(config: ServerConfig, ownHooks: boolean): string {
  const own = config.listeners.flatMap((listener, index) =>
    listener.passwordFile === undefined ? [] : [`on ${listenerName(index)} only users of ${listener.passwordFile}`],
  )
  return [everywhere(config, ownHooks), ...own].join('; ')
}

function everywhere(config: ServerConfig, ownHooks: boolean): string {
  if (config.passwordFile !== undefined) return `only users of ${config.passwordFile} (anonymous clients are refused)`
  if (ownHooks) return 'as your authenticate hooks decide'
  const acl = config.aclFile === undefined ? 'may publish and subscribe to anything' : `get the anonymous rules of ${config.aclFile}`
  return `anonymous clients are allowed and ${acl} (--password-file to require a login)`
}

/** What an operator needs to know once the server is up, in plain words: the first lines they read. */
export function startSummary(config: ServerConfig, addresses: readonly ListenerAddress[], ownHooks: boolean): string[] {
  return [
    `listening on ${addresses.map((address) => address.url).join(', ')}`,
    `store: ${store(config.persistence)}`,
    `clients: ${clients(config, ownHooks)}`,
  ]
}
