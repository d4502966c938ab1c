import type { PacketHandler } from '../connection/connection.js'
import { handlePuback, handlePubcomp, handlePubrec, handlePubrel } from './acks.js'
import { handleConnect } from './connect.js'
import { handlePublish } from './publish.js'
import { handleAuth, handleDisconnect, handlePingreq } from './session-control.js'
import { handleSubscribe } from './subscribe.js'
import { handleUnsubscribe } from './unsubscribe.js'

/** Packet type -> handler. A packet type not listed here is never valid from a client. */
export const packetHandlers: Readonly<Record<string, PacketHandler>> = Object.freeze({
  connect: handleConnect,
  publish: handlePublish,
  puback: handlePuback,
  pubrec: handlePubrec,
  pubrel: handlePubrel,
  pubcomp: handlePubcomp,
  subscribe: handleSubscribe,
  unsubscribe: handleUnsubscribe,
  pingreq: handlePingreq,
  disconnect: handleDisconnect,
  auth: handleAuth,
})
