import type { ConnectionHandler } from '../connection/connection.js'
import type { BrokerContext } from '../context.js'
import { handlePuback, handlePubcomp, handlePubrec, handlePubrel } from './acks.js'
import { handleConnect } from './connect.js'
import type { PacketHandler } from './handler.js'
import { handlePublish } from './publish.js'
import { handleAuth, handleDisconnect, handlePingreq } from './session-control.js'
import { handleSubscribe } from './subscribe.js'
import { handleUnsubscribe } from './unsubscribe.js'

/** Packet type -> handler. A packet type not listed here is never valid from a client. */
const HANDLERS: Readonly<Record<string, PacketHandler>> = {
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
}

/** The handlers with this broker's context bound: what its connections dispatch to. */
export function packetHandlers(ctx: BrokerContext): Readonly<Record<string, ConnectionHandler>> {
  const bound: Record<string, ConnectionHandler> = {}
  for (const [cmd, handler] of Object.entries(HANDLERS)) bound[cmd] = (connection, packet, done) => handler(ctx, connection, packet, done)
  return Object.freeze(bound)
}
