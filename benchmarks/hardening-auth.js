#!/usr/bin/env node
// A CONNECT flood against the password file (issue 12): 300 CONNECTs with random user names, each client
// giving up after 2 s, and meanwhile one valid login (a user who logged in before). Prints how long the valid
// login took and the broker's CPU time for the flood.
// Usage: node benchmarks/hardening-auth.js [built @wren/auth-file entry]   (figures, not a test)
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generate, parser } from 'mqtt-packet'

const core = await import('@wren/core')
const authFile = await import(process.argv[2] ?? '@wren/auth-file')

function login(port, username, password, giveUpMs) {
  return new Promise((resolve) => {
    const started = performance.now()
    const socket = net.connect({ port, host: '127.0.0.1' })
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

const dir = mkdtempSync(join(tmpdir(), 'wren-auth-flood-'))
const passwordFile = join(dir, 'passwd')
await authFile.setPassword(passwordFile, 'alice', 'alice-pw')
const broker = core.createBroker({ sysInterval: 0, hooks: authFile.createFileAuth({ passwordFile }).hooks })
await broker.ready()
const server = net.createServer((socket) => broker.handle(socket, { remoteAddress: socket.remoteAddress }))
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const { port } = server.address()

console.log('valid login, idle broker:', await login(port, 'alice', 'alice-pw', 30_000))
const cpuBefore = process.cpuUsage()
const flood = Array.from({ length: 300 }, (_, i) => login(port, `random-${i}-${Math.random()}`, 'x', 2000))
const valid = await login(port, 'alice', 'alice-pw', 30_000)
const outcomes = await Promise.all(flood)
// Let checks still queued for clients that gave up run out before reading the CPU figure.
await new Promise((resolve) => setTimeout(resolve, 3000))
const cpu = process.cpuUsage(cpuBefore)
const counts = {}
for (const { outcome } of outcomes) counts[outcome] = (counts[outcome] ?? 0) + 1
console.log('valid login during a 300-CONNECT flood:', valid)
console.log('flood outcomes:', counts, 'process CPU ms:', Math.round((cpu.user + cpu.system) / 1000))
server.close()
await broker.close()
rmSync(dir, { recursive: true, force: true })
