import { execFile } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, realpath, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { connect, connectAsync, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedisServer, type RedisServer } from '../../persistence-redis/test/redis-server.js'
import { CLI, startWren } from './helpers/wren-process.js'

let dir: string
let redis: RedisServer

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wren-server-persistence-'))
  redis = await startRedisServer()
})
afterAll(async () => {
  await redis?.stop()
  await rm(dir, { recursive: true, force: true })
})

async function withClient<T>(url: string, use: (client: MqttClient) => Promise<T>, clientId?: string): Promise<T> {
  const session = clientId ? { clientId, clean: false } : {}
  const client = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...session })
  try {
    return await use(client)
  } finally {
    await client.endAsync()
  }
}

const specs: Array<[string, () => string]> = [
  ['sqlite', () => `sqlite:${join(dir, 'wren.db')}`],
  ['redis', () => redis.url],
]

describe.each(specs)('--persistence %s', (name, spec) => {
  it('keeps retained messages and offline queues across a restart', async () => {
    const first = await startWren(['--no-ws', '--persistence', spec()])
    try {
      await withClient(first.urls.tcp!, (client) => client.subscribeAsync('jobs/#', { qos: 1 }), `worker-${name}`)
      await withClient(first.urls.tcp!, async (client) => {
        await client.publishAsync('status/door', 'open', { qos: 1, retain: true })
        await client.publishAsync('jobs/1', 'queued while away', { qos: 1 })
      })
    } finally {
      await first.stop()
    }
    expect(await first.exited).toEqual({ code: 0, signal: null })

    const second = await startWren(['--no-ws', '--persistence', spec()])
    try {
      const retained = await withClient(second.urls.tcp!, async (client) => {
        const message = new Promise<string>((resolve) =>
          client.once('message', (topic, payload) => resolve(`${topic} ${payload}`)),
        )
        await client.subscribeAsync('status/#', { qos: 1 })
        return message
      })
      expect(retained).toBe('status/door open')

      // Listening before CONNACK: the queued message may arrive in the same read.
      const returning = connect(second.urls.tcp!, { clientId: `worker-${name}`, clean: false, reconnectPeriod: 0 })
      const queued = await new Promise<string>((resolve, reject) => {
        returning.once('message', (topic, payload) => resolve(`${topic} ${payload}`))
        returning.once('error', reject)
      }).finally(() => returning.endAsync())
      expect(queued).toBe('jobs/1 queued while away')
    } finally {
      await second.stop()
    }
  })
})

describe('a persistence package that is not installed', () => {
  it('stops the server with a message naming the package', async () => {
    // The built command alone, next to its dependencies but without the adapters.
    const install = join(dir, 'bare')
    const modules = join(install, 'node_modules')
    await mkdir(join(modules, '@wren'), { recursive: true })
    const serverModules = fileURLToPath(new URL('../node_modules/', import.meta.url))
    for (const pkg of ['@wren/core', '@wren/auth-file', 'pino', 'ws']) {
      await symlink(await realpath(join(serverModules, pkg)), join(modules, pkg))
    }
    await copyFile(CLI, join(install, 'cli.js'))

    const cases = [
      [`sqlite:${join(dir, 'x.db')}`, 'sqlite'],
      ['redis://127.0.0.1:1/0', 'redis'],
    ] as const
    for (const [spec, pkg] of cases) {
      const failed = await promisify(execFile)(
        process.execPath,
        [join(install, 'cli.js'), '--host', '127.0.0.1', '--port', '0', '--no-ws', '--persistence', spec],
        { timeout: 10_000 },
      ).catch(
        (error: { code: number; stderr: string }) => error,
      )
      expect(failed).toMatchObject({
        code: 2,
        stderr: `wren: persistence "${spec}" needs the package @wren/persistence-${pkg}: install it next to @wren/server\n`,
      })
    }
  })
})
