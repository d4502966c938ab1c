// The same app as CommonJS: require() resolves to the packages' CJS builds and their .d.cts types.
import wrenCore = require('@wren/core')
import wrenServer = require('@wren/server')

async function main(): Promise<void> {
  const broker = wrenCore.createBroker({ maxQos: 1 })
  await broker.ready()
  const server = await wrenServer.createServer(broker, { tcp: 0 })

  broker.subscribe('greetings/+', (message: wrenCore.Message) => {
    const name = message.topic.split('/')[1] ?? ''
    void broker.publish({ topic: `replies/${name}`, payload: `cjs: hello ${message.payload.toString()}`, qos: 1 })
  })

  process.stdout.write(`${JSON.stringify({ port: server.addresses[0]?.port })}\n`)
  process.once('SIGTERM', () => {
    void broker.close().then(() => server.close())
  })
}

void main()
