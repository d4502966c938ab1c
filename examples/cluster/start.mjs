/**
 * Starts the example cluster: a redis-server (only if none answers at REDIS_URL) and three nodes on ports
 * 1883, 1884 and 1885 (or MQTT_PORTS=a,b,c). Ctrl-C stops all of them.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
const ports = (process.env.MQTT_PORTS ?? '1883,1884,1885').split(',').map(Number)
const node = fileURLToPath(new URL('./node.mjs', import.meta.url))
const children = []

function answers(host, port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port }, () => {
      socket.end()
      resolve(true)
    })
    socket.on('error', () => resolve(false))
  })
}

async function startRedis() {
  const dir = mkdtempSync(join(tmpdir(), 'wren-cluster-example-'))
  const redis = spawn('redis-server', ['--port', redisUrl.port || '6379', '--bind', redisUrl.hostname, '--dir', dir, '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  redis.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  children.push(redis)
  await new Promise((resolve, reject) => {
    redis.once('error', reject)
    redis.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)))
    redis.stdout.on('data', (chunk) => {
      if (chunk.toString().includes('Ready to accept connections')) resolve()
    })
  })
  redis.stdout.resume()
  console.log(`[start] redis-server on ${redisUrl.host}`)
}

if (await answers(redisUrl.hostname, Number(redisUrl.port || 6379))) console.log(`[start] using the Redis at ${redisUrl.href}`)
else await startRedis()

ports.forEach((port, i) => {
  const child = spawn(process.execPath, [node], {
    env: { ...process.env, REDIS_URL: redisUrl.href, NODE_ID: `node-${i + 1}`, MQTT_PORT: String(port) },
    stdio: 'inherit',
  })
  children.push(child)
})

let stopping = false
async function stop() {
  if (stopping) return
  stopping = true
  // Nodes first, so that they leave the cluster cleanly while Redis is still there.
  const [maybeRedis, ...rest] = children
  const nodes = maybeRedis?.spawnfile === 'redis-server' ? rest : children
  await Promise.all(nodes.map((child) => stopChild(child)))
  if (nodes !== children) await stopChild(maybeRedis)
  process.exit(0)
}

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', resolve)
    child.kill('SIGTERM')
  })
}

process.once('SIGINT', stop)
process.once('SIGTERM', stop)
