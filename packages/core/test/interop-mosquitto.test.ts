import { execFile, spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { recordEvents } from './helpers/events.js'
import { startBroker } from './helpers/start-broker.js'

/** Runs a mosquitto client to completion; -W bounds how long mosquitto_sub waits. */
function run(command: 'mosquitto_pub' | 'mosquitto_sub', args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed: ${error.message} ${stderr}`))
      else resolve(stdout)
    })
  })
}

/** Starts mosquitto_sub for one message and resolves its output once it exits. */
function subscribeOnce(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('mosquitto_sub', [...args, '-C', '1', '-W', '8'])
    let out = ''
    let err = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()))
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`mosquitto_sub exited ${code}: ${err}`))))
  })
}

const host = (port: number) => ['-h', '127.0.0.1', '-p', String(port)]

describe('interoperability with the Mosquitto command-line clients', () => {
  it.each([
    ['MQTT 3.1.1', 'mqttv311'],
    ['MQTT 3.1', 'mqttv31'],
  ])('mosquitto_sub receives what mosquitto_pub sends at QoS 2 (%s)', async (_name, version) => {
    const b = await startBroker()
    const events = recordEvents(b.broker)
    const received = subscribeOnce([...host(b.port), '-V', version, '-t', 'a/#', '-q', '2', '-F', '%t %q %p'])
    await events.subscribed.next((e) => e.subscriptions.some((s) => s.filter === 'a/#'), 5000)
    await run('mosquitto_pub', [...host(b.port), '-V', version, '-t', 'a/b', '-m', 'hi', '-q', '2'])
    expect((await received).trim()).toBe('a/b 2 hi')
  })

  it('mosquitto_sub receives a message retained by mosquitto_pub -r, flagged as retained', async () => {
    const b = await startBroker()
    await run('mosquitto_pub', [...host(b.port), '-t', 'a/retained', '-m', 'kept', '-q', '1', '-r'])
    const output = await subscribeOnce([...host(b.port), '-t', 'a/#', '-q', '1', '-F', '%t %r %p'])
    expect(output.trim()).toBe('a/retained 1 kept')
  })

  it('mosquitto_sub -c keeps its session: messages published while it is away arrive on its return', async () => {
    const b = await startBroker()
    const events = recordEvents(b.broker)
    const id = ['-i', 'mosquitto-persistent', '-c']
    const first = subscribeOnce([...host(b.port), ...id, '-t', 'p/#', '-q', '1'])
    await events.subscribed.next(() => true, 5000)
    await run('mosquitto_pub', [...host(b.port), '-t', 'p/1', '-m', 'first', '-q', '1'])
    expect((await first).trim()).toBe('first')
    await events.disconnected.next((e) => e.client.id === 'mosquitto-persistent', 5000)
    await run('mosquitto_pub', [...host(b.port), '-t', 'p/2', '-m', 'while-away', '-q', '1'])
    expect((await subscribeOnce([...host(b.port), ...id, '-t', 'p/#', '-q', '1'])).trim()).toBe('while-away')
  })
})
