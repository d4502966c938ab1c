export * from './messages.js'
export { decodeDatagram, MalformedDatagram } from './decode.js'
export { encodeMessage, encodeDatagram, encapsulate, MAX_MESSAGE_SIZE, MSG_TYPE_OF } from './encode.js'
export { encodeUdpGatewayAddress, decodeUdpGatewayAddress, type UdpGatewayAddress } from './gateway-address.js'
