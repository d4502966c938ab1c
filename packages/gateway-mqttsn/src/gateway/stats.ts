/** The gateway's counters (plain numbers: counting costs nothing per datagram), published under `$SYS/broker/mqtt-sn/`. */
export class MqttSnStats {
  datagramsReceived = 0
  datagramsSent = 0
  /** Datagrams that were not well-formed MQTT-SN 1.2 (or larger than maxDatagramSize). */
  datagramsMalformed = 0
  /** Well-formed datagrams with nothing to act on: from unknown clients, out of place, QoS -1 while switched off. */
  datagramsDropped = 0
  /** PUBLISHes from clients accepted towards the broker. */
  publishesReceived = 0
  /** PUBLISHes from clients answered with a non-zero return code. */
  publishesRejected = 0
  publishesSent = 0
  /** Messages for clients that could not be delivered: sleeper's buffer full, datagram too large, topic id refused. */
  messagesDropped = 0
}
