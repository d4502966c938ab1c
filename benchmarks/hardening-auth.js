#!/usr/bin/env node
// A CONNECT flood against the password file (issue 12): 300 CONNECTs with random user names from another
// process (an attacker is not the broker: sharing its event loop would measure the attacker's own sockets),
// each client giving up after 2 s, and meanwhile one valid login (a user who logged in before) and one first
// login of another user. Prints how long the valid logins took and the broker process's CPU time for the flood.
// Usage: node benchmarks/hardening-auth.js [built @wren/auth-file entry]   (figures, not a test)
import { fork } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generate, parser } from 'mqtt-packet'

function login(port, username, password, giveUpMs, localAddress) {
  return new Promise((resolve) => {
    const started = performance.now()
    const socket = net.connect({ port, host: '127.0.0.1', localAddress })
    const p = parser({ protocolVersion: 4 })
    const timer = setTimeout(() => finish('gave up'), giveUpMs)
    function finish(outcome) {
      clearTimeout(timer)
      socket.destroy()
      resolve({ outcome, ms: Math.round(performance.now() - started) })
    }
    p.on('packet', (packet) => finish(packet.returnCode === 0 ? 'accepted' : `refused ${packet.returnCode}`))
    socket.on('data', (chunk) => p.parse(chunk))
    socket.on('error', () => finish('error'))
    socket.on('close', () => finish('closed'))
    socket.write(generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: `c-${Math.random()}`, clean: true, keepalive: 0, username, password: Buffer.from(password) }))
  })
}

if (process.argv[2] === '--flood') {
  // The attacker's process, from its own address: 300 random-user CONNECTs at once, reporting their outcomes.
  const port = Number(process.argv[3])
  const flood = Array.from({ length: 300 }, (_, i) => login(port, `random-${i}-${Math.random()}`, 'x', 2000, '127.0.0.2'))
  // The first answer means the broker's check queue is full (or hashes are done): the flood is on.
  await Promise.race(flood)
  process.send('started')
  const outcomes = await Promise.all(flood)
  const counts = {}
  for (const { outcome } of outcomes) counts[outcome] = (counts[outcome] ?? 0) + 1
  process.send(counts)
  process.exit(0)
}

const core = await import('@wren/core')
const authFile = await import(process.argv[2] ?? '@wren/auth-file')

const dir = mkdtempSync(join(tmpdir(), 'wren-auth-flood-'))
const passwordFile = join(dir, 'passwd')
await authFile.setPassword(passwordFile, 'alice', 'alice-pw')
await authFile.setPassword(passwordFile, 'bob', 'bob-pw')
const broker = core.createBroker({ sysInterval: 0, hooks: authFile.createFileAuth({ passwordFile }).hooks })
await broker.ready()
const server = net.createServer((socket) => broker.handle(socket, { remoteAddress: socket.remoteAddress }))
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const { port } = server.address()

console.log('valid login, idle broker:', await login(port, 'alice', 'alice-pw', 30_000))
const cpuBefore = process.cpuUsage()
const attacker = fork(fileURLToPath(import.meta.url), ['--flood', String(port)])
const next = () => new Promise((resolve) => attacker.once('message', resolve))
await next() // the flood is on
const floodOutcomes = next()
const [valid, first] = await Promise.all([login(port, 'alice', 'alice-pw', 30_000), login(port, 'bob', 'bob-pw', 30_000)])
const counts = await floodOutcomes
// Let checks still queued for clients that gave up run out before reading the CPU figure.
await new Promise((resolve) => setTimeout(resolve, 3000))
const cpu = process.cpuUsage(cpuBefore)
console.log('valid login during a 300-CONNECT flood (remembered user):', valid)
console.log('first login of another user during the flood:', first)
console.log('flood outcomes:', counts, 'broker process CPU ms:', Math.round((cpu.user + cpu.system) / 1000))
server.close()
await broker.close()
rmSync(dir, { recursive: true, force: true })
