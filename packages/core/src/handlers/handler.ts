import type { Packet } from 'mqtt-packet'
import type { Connection } from '../connection/connection.js'
import type { BrokerContext } from '../context.js'

/**
 * Handles one packet type from one client, given the broker's context explicitly. `done` lets the connection go on
 * to the next packet: packets of one client are handled strictly in order.
 */
export type PacketHandler = (ctx: BrokerContext, connection: Connection, packet: Packet, done: () => void) => void
