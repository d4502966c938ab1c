/** The gateway's counters (plain numbers: counting costs nothing per datagram), published under `$SYS/broker/lwm2m/`. */
export class Lwm2mStats {
  datagramsReceived = 0
  /** Datagrams that were not well-formed CoAP: dropped without an answer. */
  datagramsMalformed = 0
  registrations = 0
  /** Registrations refused: bad query, unknown endpoint, refused by the broker's hooks. */
  registrationsRejected = 0
  updates = 0
  deregistrations = 0
  /** Devices dropped because their lifetime passed without an Update. */
  expirations = 0
  /** Commands sent to devices, and the responses to them. */
  commandsSent = 0
  responsesReceived = 0
  /** Commands that were not valid JSON commands, or that the device never answered. */
  commandsRejected = 0
  commandsTimedOut = 0
  /** Commands held for a queue-mode device until it next talks, and those dropped because its queue was full. */
  commandsQueued = 0
  commandsDropped = 0
  notifications = 0
}
