export { SessionBridge, type BridgeConnect, type BridgeHandler } from './session-bridge.js'
export { udpAddress } from './udp-address.js'
export { publishSysValues, reportGateway } from './gateway-reporting.js'
export { Intervals } from './intervals.js'
