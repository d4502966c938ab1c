// Not a broker: the least a Node MQTT server must do to hold a client, as a floor for the connection scenarios.
// It answers whatever a client sends with a fixed CONNACK (the clients there send a CONNECT and then nothing), on the
// listener listen.js gives every Node broker script here (TCP, TLS or WebSocket). What it costs per connection,
// in CPU and RSS, is what a `net.Socket` (and the TLS or WebSocket state over it) costs Node, before any broker
// code runs. Served on 127.0.0.1:<port> (argv[2]); argv[3] (the store) is ignored.
import { listen } from './listen.js'

const CONNACK = Buffer.from([0x20, 2, 0, 0])

function answerConnect() {
  this.write(CONNACK)
}

/** The floor's connection handler: one shared listener, no per-connection closure (`once` would add one). */
export function holdConnection(stream) {
  stream.on('data', answerConnect).on('error', () => {})
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  listen(Number(process.argv[2]), process.argv.slice(4), holdConnection)
  process.on('SIGTERM', () => process.exit(0))
}
