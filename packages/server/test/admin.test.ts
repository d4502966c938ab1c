import { spawn } from 'node:child_process'
import { connectAsync } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { prettyLine } from '../src/pretty-log.js'
import { CLI, adminUrl, assertServerBuilt, runWren, startWren, type LogLine, type WrenProcess } from './helpers/wren-process.js'

const TOKEN = 'wren-admin-secret'
let wren: WrenProcess | undefined

afterEach(async () => {
  await wren?.stop()
  wren = undefined
})

describe('wren --admin-port', () => {
  it('serves metrics, the admin API and the dashboard behind the token, and logs connects and disconnects', async () => {
    wren = await startWren(['--admin-port', '0', '--admin-token', TOKEN, '--sys-interval', '0'])
    const url = await adminUrl(wren)
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect((await fetch(`${url}/metrics`)).status).toBe(401)

    const client = await connectAsync(wren.urls.tcp as string, { clientId: 'logged-client', username: 'ann', clean: false, reconnectPeriod: 0 })
    const auth = { authorization: `Bearer ${TOKEN}` }
    const metrics = await (await fetch(`${url}/metrics`, { headers: auth })).text()
    expect(metrics).toMatch(/^wren_clients_connected 1$/m)
    expect(metrics).toMatch(/^wren_connections_total\{transport="tcp"\} 1$/m)
    // The store is timed once the admin port is on: the session of the client, which outlives its connection, was looked up.
    expect(metrics).toMatch(/^wren_persistence_operation_duration_seconds_count\{operation="sessionGet"\} [1-9]/m)
    const clients = (await (await fetch(`${url}/api/v1/clients`, { headers: auth })).json()) as { items: Array<{ id: string; username: string }> }
    expect(clients.items.map((c) => [c.id, c.username])).toEqual([['logged-client', 'ann']])
    const page = await fetch(`${url}/clients`)
    expect(page.headers.get('content-type')).toMatch(/^text\/html/)
    expect(await page.text()).toContain('<base href="/">')

    const connected = await wren.waitForLog((l) => l.msg === 'client connected')
    // At info, the default level: an operator sees every connect and disconnect, as with Mosquitto.
    expect(connected).toMatchObject({ clientId: 'logged-client', username: 'ann', transport: 'tcp', protocolVersion: 4, keepalive: 60, sessionExpiry: 4294967295, level: 30 })
    expect(connected.address).toMatch(/^127\.0\.0\.1:\d+$/)
    await client.endAsync()
    const gone = await wren.waitForLog((l) => l.msg === 'client disconnected')
    expect(gone).toMatchObject({ clientId: 'logged-client', username: 'ann', transport: 'tcp', reason: 'disconnect', level: 30 })
    expect(gone.address).toBe(connected.address)
  })

  it('logs denied connects rate-limited, with client id and reason', async () => {
    wren = await startWren(['--password-file', '/dev/null', '--sys-interval', '0'])
    const refusals = 15
    for (let i = 0; i < refusals; i++) {
      await expect(connectAsync(wren.urls.tcp as string, { clientId: `bad-${i}`, username: 'nobody', password: 'x', reconnectPeriod: 0 })).rejects.toThrow()
    }
    await wren.waitForLog((l) => l.msg === 'connect denied' && l.clientId === 'bad-9')
    const denied = (l: LogLine): boolean => l.msg === 'connect denied'
    expect(wren.logs.filter(denied)).toHaveLength(10)
    // 0x86: bad user name or password, as the CONNACK said
    expect(wren.logs.find(denied)).toMatchObject({ clientId: 'bad-0', username: 'nobody', action: 'connect', reasonCode: 0x86, level: 40 })
  })

  it('refuses a non-loopback admin address without a token, in one line', async () => {
    const { code, stderr } = await runWren(['--host', '127.0.0.1', '--port', '0', '--no-ws', '--admin-port', '0', '--admin-host', '0.0.0.0'])
    expect(code).toBe(2)
    expect(stderr).toBe('wren: adminHost 0.0.0.0 is not a loopback address: set adminToken (--admin-token) so that the admin API is not open to the network\n')
  })

  it('writes readable lines with --log-format pretty and refuses other formats', async () => {
    const { code, stderr } = await runWren(['--log-format', 'xml'])
    expect(code).toBe(2)
    expect(stderr).toBe('wren: --log-format must be one of "json", "pretty", got "xml"\n')
    assertServerBuilt()
    const child = spawn(process.execPath, [CLI, '--host', '127.0.0.1', '--port', '0', '--no-ws', '--log-format', 'pretty'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = new Promise((resolve) => child.once('close', resolve))
    let stdout = ''
    await new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk
        if (stdout.includes('broker started')) resolve()
      })
      child.once('close', () => reject(new Error(`wren exited: ${stdout}`)))
    })
    child.kill('SIGTERM')
    await exited
    expect(stdout).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  listening on mqtt:\/\/127\.0\.0\.1:\d+ transport=tcp host=127\.0\.0\.1 port=\d+ url=mqtt:/m)
    expect(stdout).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  broker started brokerId=wren-broker-/m)
    const line = prettyLine(JSON.stringify({ level: 30, time: Date.UTC(2026, 0, 2, 3, 4, 5, 6), pid: 1, hostname: 'h', name: 'wren', msg: 'client connected', clientId: 'c 1', port: 1883 }))
    expect(line).toBe('03:04:05.006 INFO  client connected clientId="c 1" port=1883\n')
  })
})
