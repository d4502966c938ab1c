import { createServer } from 'node:net'
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto'
import { once } from 'node:events'
import { pathToFileURL } from 'node:url'
import express from 'express'
import { createBroker, ReasonCode } from '@wren/core'
import { signToken, verifyToken } from './jwt.js'

/** Demo users, id -> password; a real app has its own user store. */
const DEMO_USERS = { alice: 'alice-password', bob: 'bob-password' }

/** Each user's passwords as salted scrypt hashes, so the comparison below costs the same for every user. */
function userStore(users) {
  const salt = randomBytes(16)
  const hashes = new Map(Object.entries(users).map(([id, password]) => [id, scryptSync(password, salt, 32)]))
  const unknown = scryptSync(randomBytes(16), salt, 32)
  return (id, password) => {
    const attempt = scryptSync(password, salt, 32)
    return timingSafeEqual(attempt, hashes.get(id) ?? unknown) && hashes.has(id)
  }
}

/** The MQTT topics a user owns: users/<id>/... */
const ownTree = (client) => `users/${client.data.userId}/`

/**
 * The broker's hooks: the MQTT password is a JWT from POST /login, the MQTT user name is the user id it was
 * issued to, and each user may publish and subscribe only under users/<id>/.
 */
function jwtHooks(secret) {
  return {
    authenticate(_client, { username, password }) {
      if (username === undefined || password === undefined) return { ok: false, reasonCode: ReasonCode.NotAuthorized }
      const claims = verifyToken(secret, password.toString('utf8'))
      if (claims === undefined || claims.sub !== username) {
        return { ok: false, reasonCode: ReasonCode.BadUserNameOrPassword, reason: 'invalid or expired token' }
      }
      return { ok: true, data: { userId: claims.sub, tokenExpiresAt: claims.exp } }
    },
    authorizePublish: (client, message) => message.topic.startsWith(ownTree(client)),
    // Checked as sent: users/+/x or # start elsewhere and are refused, so no subscription reaches another tree.
    authorizeSubscribe: (client, subscription) => subscription.filter.startsWith(ownTree(client)),
  }
}

export async function start({
  httpPort = 3000,
  mqttPort = 1883,
  host = '127.0.0.1',
  users = DEMO_USERS,
  secret = randomBytes(32),
  tokenTtl = 3600,
} = {}) {
  const checkPassword = userStore(users)
  const broker = createBroker({ hooks: jwtHooks(secret) })
  await broker.ready()

  const app = express().use(express.json())
  app.post('/login', (req, res) => {
    const { username, password } = req.body ?? {}
    if (typeof username !== 'string' || typeof password !== 'string' || !checkPassword(username, password)) {
      return res.status(401).json({ error: 'bad user name or password' })
    }
    const now = Math.floor(Date.now() / 1000)
    res.json({ token: signToken(secret, { sub: username, iat: now, exp: now + tokenTtl }), expiresIn: tokenTtl })
  })
  app.get('/me', (req, res) => {
    const [scheme, token] = (req.get('authorization') ?? '').split(' ')
    const claims = scheme === 'Bearer' ? verifyToken(secret, token) : undefined
    if (claims === undefined) return res.status(401).set('www-authenticate', 'Bearer').json({ error: 'a valid token is required' })
    res.json({ id: claims.sub, expiresAt: claims.exp, mqttTopics: `users/${claims.sub}/#` })
  })

  const http = app.listen(httpPort, host)
  const tcp = createServer((socket) => broker.handle(socket, { transport: 'tcp', remoteAddress: socket.remoteAddress }))
  await Promise.all([once(http, 'listening'), once(tcp.listen(mqttPort, host), 'listening')])

  const close = async () => {
    await broker.close()
    http.closeAllConnections()
    await Promise.all([new Promise((r) => http.close(r)), new Promise((r) => tcp.close(r))])
  }
  return { broker, httpPort: http.address().port, mqttPort: tcp.address().port, close }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const env = process.env
  const { httpPort, mqttPort, close } = await start({
    httpPort: Number(env.HTTP_PORT ?? 3000),
    mqttPort: Number(env.MQTT_PORT ?? 1883),
    host: env.HOST ?? '127.0.0.1',
  })
  console.log(`HTTP API on :${httpPort} (POST /login, GET /me), MQTT over TCP on :${mqttPort}`)
  process.once('SIGTERM', () => close().then(() => process.exit(0)))
  process.once('SIGINT', () => close().then(() => process.exit(0)))
}
