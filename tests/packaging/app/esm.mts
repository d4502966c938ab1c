// An app that embeds Wren, as a user writes it against the installed packages (ES modules).
import { createBroker, type Message } from '@wren/core'
import { createServer } from '@wren/server'

const broker = createBroker({ maxQos: 1 })
await broker.ready()
const server = await createServer(broker, { tcp: 0 })

// Answers every greeting on replies/<name>, so a client sees the broker both receive and send.
broker.subscribe('greetings/+', (message: Message) => {
  const name = message.topic.split('/')[1] ?? ''
  void broker.publish({ topic: `replies/${name}`, payload: `esm: hello ${message.payload.toString()}`, qos: 1 })
})

process.stdout.write(`${JSON.stringify({ port: server.addresses[0]?.port })}\n`)
process.once('SIGTERM', () => {
  void broker.close().then(() => server.close())
})
