import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import mqtt from 'mqtt'

async function run(name, url, extra = {}) {
  const child = spawn(process.execPath, [`${name}.mjs`], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (out += d))
  const deadline = Date.now() + 5000
  while (!out.includes('MQTT') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  try {
    const sub = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...extra })
    await sub.subscribeAsync('t/#', { qos: 1 })
    const pub = await mqtt.connectAsync(url, { reconnectPeriod: 0, protocolVersion: 5, ...extra })
    const got = new Promise((r) => sub.once('message', (t, p) => r(`${t} ${p}`)))
    await pub.publishAsync('t/x', 'hi', { qos: 1 })
    console.log(name, 'OK:', await Promise.race([got, new Promise((r) => setTimeout(() => r('TIMEOUT'), 3000))]))
    await sub.endAsync(); await pub.endAsync()
  } catch (e) { console.log(name, 'FAIL', e.message, out) }
  child.kill()
}
await run('tcp', 'mqtt://127.0.0.1:21883')
await run('tls', 'mqtts://127.0.0.1:28883', { ca: readFileSync('ca-cert.pem'), servername: 'localhost', rejectUnauthorized: true })
await run('tls', 'mqtts://127.0.0.1:28883', { ca: readFileSync('ca-cert.pem'), servername: 'localhost', key: readFileSync('client-key.pem'), cert: readFileSync('client-cert.pem') })
await run('ws', 'ws://127.0.0.1:28083/mqtt')
const mem = spawn(process.execPath, ['memory.mjs'], { stdio: 'pipe' })
let memOut = ''
mem.stdout.on('data', (d) => (memOut += d)); mem.stderr.on('data', (d) => (memOut += d))
const code = await new Promise((r) => { const t = setTimeout(() => { mem.kill(); r('killed after 5s') }, 5000); mem.on('exit', (c) => { clearTimeout(t); r(c) }) })
console.log('memory exit', code, JSON.stringify(memOut))
