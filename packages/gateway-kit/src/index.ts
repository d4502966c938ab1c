export { SessionBridge, type BridgeConnect, type BridgeHandler } from './session-bridge.js'
