import type { TlsOptions } from 'node:tls'
import { listenerName, type ListenerConfig } from './listener-config.js'
import type { ListenerSpec } from './listeners/open-listeners.js'
import type { ServerConfig } from './settings.js'
import { readTlsFiles } from './tls-files.js'

/** The single-listener shortcuts as listener entries, in the order tcp, ws, tls, wss; port -1 leaves one out. */
function shortcutListeners(config: ServerConfig): ListenerConfig[] {
  const shortcuts: ListenerConfig[] = [
    { protocol: 'mqtt', port: config.port },
    { protocol: 'ws', port: config.wsPort },
    { protocol: 'mqtts', port: config.tlsPort },
    { protocol: 'wss', port: config.wssPort },
  ]
  return shortcuts.filter((listener) => listener.port >= 0)
}

/**
 * Every listener the config asks for, shortcuts first, then `listeners`, each with its TLS files read and
 * checked (listeners sharing the same files share one read). `host` is where those without one bind. Each gets
 * the broker's connection, packet and handshake bounds at the socket too, so a flood is cut before the broker.
 */
export async function planListeners(config: ServerConfig, host: string): Promise<ListenerSpec[]> {
  const tlsByFiles = new Map<string, Promise<TlsOptions>>()
  const named = config.listeners.map((listener, index) => ({ ...listener, name: listenerName(index) }))
  const plan = [...shortcutListeners(config), ...named].map(async (listener: ListenerConfig & { name?: string }): Promise<ListenerSpec> => {
    const spec: ListenerSpec = { protocol: listener.protocol, host: listener.host ?? host, port: listener.port }
    if (listener.name !== undefined) spec.name = listener.name
    const maxConnections = listener.maxConnections ?? config.maxConnections
    if (maxConnections !== undefined) spec.maxConnections = maxConnections
    if (listener.protocol === 'ws' || listener.protocol === 'wss') {
      spec.path = listener.path ?? config.wsPath
      if (config.maxPacketSize !== undefined) spec.maxPayload = config.maxPacketSize
      if (config.wsOrigins !== undefined) spec.origins = config.wsOrigins
    } else if (config.connectTimeout !== undefined) {
      spec.handshakeTimeout = config.connectTimeout
    }
    if (listener.protocol === 'mqtts' || listener.protocol === 'wss') {
      const files = {
        cert: listener.cert ?? config.cert ?? '',
        key: listener.key ?? config.key ?? '',
        ca: listener.ca ?? config.ca,
        requireClientCert: listener.requireClientCert ?? config.requireClientCert,
      }
      const id = JSON.stringify(files)
      if (!tlsByFiles.has(id)) tlsByFiles.set(id, readTlsFiles(files))
      spec.tls = await tlsByFiles.get(id)
    }
    return spec
  })
  return Promise.all(plan)
}
