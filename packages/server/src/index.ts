export { startServer, type RunningServer, type StartOptions } from './server.js'
export {
  ConfigError,
  DEFAULT_CONFIG,
  mergeConfig,
  readConfigFile,
  validatePartialConfig,
  type ListenerConfig,
  type LogFormat,
  type LogLevel,
  type PersistenceSpec,
  type ServerConfig,
} from './config.js'
export { ServerErrorCode, StartupError } from './config-error.js'
export { openPersistence } from './persistence.js'
export { createLogger } from './logger.js'
export type { Listener, ListenerAddress } from './listeners/listener.js'
export { listenTcp, type TcpListenerOptions } from './listeners/tcp.js'
export { attachWebSocket, listenWebSocket, type WebSocketListenerOptions } from './listeners/websocket.js'
export { createServer, type BrokerServer, type CreateServerOptions } from './listeners/create-server.js'
export {
  LISTENER_PROTOCOLS,
  ListenerError,
  openListeners,
  type ListenerProtocol,
  type ListenerSpec,
} from './listeners/open-listeners.js'
