import { readFileSync } from 'node:fs'
import tls from 'node:tls'
import { createBroker } from '@wren/core'

const broker = createBroker()
await broker.ready()

const options = {
  key: readFileSync('server-key.pem'),
  cert: readFileSync('server-cert.pem'),
  ca: readFileSync('ca-cert.pem'), // the CA that signs client certificates
  requestCert: true, // ask for a client certificate
  rejectUnauthorized: false, // let clients without one in; `authenticate` decides
}
const server = tls.createServer(options, (socket) => {
  broker.handle(socket, {
    transport: 'tls',
    remoteAddress: socket.remoteAddress,
    certificate: socket.authorized ? socket.getPeerCertificate() : undefined,
  })
})
server.listen(28883, '127.0.0.1', () => console.log('MQTT over TLS on mqtts://localhost:8883'))
