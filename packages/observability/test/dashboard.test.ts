/// <reference lib="dom" />
import { mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectClient } from '../../core/test/helpers/clients.js'
import { recordEvents } from '../../core/test/helpers/events.js'
import { startBroker } from '../../core/test/helpers/start-broker.js'
import type { Broker } from '@wren/core'
import { connectedBridge } from '../../bridge/test/helpers.js'
import { snClient, startGateway } from '../../gateway-mqttsn/test/helpers.js'
import { startAdminServer } from './helpers/admin-server.js'

const TOKEN = 'dashboard-token'
/** `UPDATE_SCREENSHOT=1` refreshes the screenshot in the docs from this run. */
const SCREENSHOT = fileURLToPath(new URL('../../../docs/images/dashboard.png', import.meta.url))
const BRIDGES_SCREENSHOT = fileURLToPath(new URL('../../../docs/images/dashboard-bridges.png', import.meta.url))

let browser: Browser

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
})
afterAll(async () => {
  await browser?.close()
})

/** A page that already holds the admin token, as after signing in once. */
async function openDashboard(url: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } })
  await context.addInitScript((token) => localStorage.setItem('wren-admin-token', token), TOKEN)
  const page = await context.newPage()
  await page.goto(url)
  return page
}

const text = (page: Page, selector: string): Promise<string> => page.locator(selector).innerText()

// A browser on a busy machine is slow to start pages: each test gets a minute, bounded still.
describe('the dashboard in Chromium', { timeout: 60_000 }, () => {
  it('asks for the token when it has none, and signs in with it', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const admin = await startAdminServer({ broker: b.broker, token: TOKEN, liveInterval: 200 })
    const context = await browser.newContext()
    const page = await context.newPage()
    await page.goto(`${admin.url}/`)
    await page.locator('#login').waitFor({ state: 'visible' })
    await page.fill('#token', TOKEN)
    await page.click('#login button')
    await page.locator('#live.on').waitFor()
    await page.waitForFunction(() => document.querySelector('[data-stat="clients"]')?.textContent === '0')
    await context.close()
  })

  it('shows the overview numbers, moving charts, the clients page and kicks a client', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const events = recordEvents(b.broker)
    const admin = await startAdminServer({ broker: b.broker, token: TOKEN, liveInterval: 200 })
    const sensor = await connectClient(b.url, { clientId: 'sensor-kitchen', username: 'sensors', protocolVersion: 5 })
    const display = await connectClient(b.url, { clientId: 'display-hall', username: 'displays' })
    const intruder = await connectClient(b.url, { clientId: 'intruder', protocolVersion: 5 })
    await display.client.subscribeAsync('home/+/temperature', { qos: 1 })
    await sensor.client.publishAsync('home/kitchen/temperature', '21.5', { qos: 1, retain: true })
    await display.inbox.next(() => true, 3000, 'first reading')

    const page = await openDashboard(`${admin.url}/`)
    expect(await text(page, '#node')).toBe(b.broker.id)
    await page.waitForFunction(() => document.querySelector('[data-stat="clients"]')?.textContent === '3')
    expect(await text(page, '[data-stat="subscriptions"]')).toBe('1')
    expect(await text(page, '[data-stat="retained"]')).toBe('1')
    expect(await text(page, '[data-stat="received"]')).toBe('1')
    expect(await text(page, '[data-stat="sessions-online"]')).toBe('3')

    // Charts move: each live update shifts the series; a burst of messages shows up in the messages chart.
    const before = await page.getAttribute('[data-series="in"]', 'points')
    await page.waitForFunction((old) => document.querySelector('[data-series="in"]')?.getAttribute('points') !== old, before)
    for (let i = 0; i < 50; i++) sensor.client.publish('home/kitchen/temperature', String(20 + i / 10), { qos: 0 })
    await display.inbox.take(50, () => true, 10_000, 'the burst')
    await page.waitForFunction(() => document.querySelector('[data-stat="received"]')?.textContent === '51')
    await page.waitForFunction(() => Number(document.querySelector('[data-max="messages"]')?.textContent) > 1)
    const points = (await page.getAttribute('[data-series="in"]', 'points')) ?? ''
    expect(new Set(points.split(' ').map((p) => p.split(',')[1])).size).toBeGreaterThan(1)
    if (process.env.UPDATE_SCREENSHOT === '1') {
      await mkdir(dirname(SCREENSHOT), { recursive: true })
      await page.screenshot({ path: SCREENSHOT })
    }

    await page.click('nav a[data-page="clients"]')
    expect(new URL(page.url()).pathname).toBe('/clients')
    await page.locator('tr[data-id="intruder"]').waitFor()
    const ids = await page.locator('tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-id')))
    expect(ids).toEqual(['display-hall', 'intruder', 'sensor-kitchen'])
    expect(await text(page, 'tr[data-id="sensor-kitchen"]')).toContain('sensors')
    await page.click('tr[data-id="display-hall"]')
    const detail = page.locator('[data-detail="display-hall"]')
    await detail.waitFor()
    expect(await detail.innerText()).toContain('home/+/temperature (QoS 1)')
    expect(await detail.innerText()).toContain('MQTT 3.1.1')

    page.once('dialog', (dialog) => void dialog.accept())
    const disconnect = new Promise<number | undefined>((resolve) => intruder.client.once('disconnect', (packet) => resolve(packet.reasonCode)))
    await page.click('[data-kick="intruder"]')
    expect(await disconnect).toBe(0x98)
    await events.disconnected.next((e) => e.client.id === 'intruder' && e.reason === 'kicked', 5000, 'kicked from the dashboard')
    await page.locator('tr[data-id="intruder"]').waitFor({ state: 'detached' })
    expect(await page.locator('tbody tr').count()).toBe(2)

    // A page opened directly by its address is served too.
    await page.goto(`${admin.url}/retained`)
    await page.locator('tr[data-id="home/kitchen/temperature"]').waitFor()
    await page.click('tr[data-id="home/kitchen/temperature"]')
    expect(await page.locator('[data-detail="home/kitchen/temperature"] pre').innerText()).toBe('21.5')
    await page.context().close()
  })

  it('lists subscriptions and sessions, offline ones too, and deletes a session', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const events = recordEvents(b.broker)
    const admin = await startAdminServer({ broker: b.broker, token: TOKEN, liveInterval: 200 })
    const keeper = await connectClient(b.url, { clientId: 'keeper', clean: false })
    await keeper.client.subscribeAsync('keep/#', { qos: 1 })
    await keeper.client.endAsync()
    await events.disconnected.next((e) => e.client.id === 'keeper', 3000, 'keeper offline')
    const watcher = await connectClient(b.url, { clientId: 'watcher' })
    await watcher.client.subscribeAsync('w/#', { qos: 0 })

    const page = await openDashboard(`${admin.url}/subscriptions`)
    await page.locator('tr[data-id="watcher w/#"]').waitFor()
    await page.locator('tr[data-id="keeper keep/#"]').waitFor()
    await page.fill('input[placeholder="client id"]', 'watcher')
    await page.locator('tr[data-id="keeper keep/#"]').waitFor({ state: 'detached' })
    expect(await page.locator('tbody tr').count()).toBe(1)

    await page.click('nav a[data-page="sessions"]')
    // The offline record reaches the store once the session's state is flushed: the live page shows it when it does.
    await page.locator('tr[data-id="keeper"]', { hasText: 'offline' }).waitFor()
    expect(await text(page, 'tr[data-id="watcher"]')).toContain('online')
    await page.selectOption('select', 'offline')
    await page.locator('tr[data-id="watcher"]').waitFor({ state: 'detached' })
    page.once('dialog', (dialog) => void dialog.accept())
    await page.click('[data-delete="keeper"]')
    await page.locator('tr[data-id="keeper"]').waitFor({ state: 'detached' })
    expect(await b.broker.admin.session('keeper')).toBeUndefined()
    expect(b.broker.admin.subscriptions({ clientId: 'keeper' })).toEqual([])
    await page.context().close()
  })

  it('shows the bridges and the MQTT-SN gateway, live', async () => {
    const gw = await startGateway()
    const remote = await startBroker({ sysInterval: 0 })
    const bridge = await connectedBridge(gw.broker as unknown as Broker, remote.port, { topics: [{ pattern: 'sn/#', direction: 'out', qos: 1 }], sysInterval: 0 })
    const cloud = await connectClient(remote.url)
    await cloud.client.subscribeAsync('sn/#', { qos: 1 })
    const admin = await startAdminServer({ broker: gw.broker, token: TOKEN, liveInterval: 200 })
    const sensor = await snClient(gw)
    await sensor.publish('sn/temp', '20', { qos: 1 })
    await cloud.inbox.next(() => true, 5000, 'through the gateway and the bridge')

    const page = await openDashboard(`${admin.url}/bridges`)
    const row = page.locator(`tr[data-id="${bridge.name}"]`)
    await row.waitFor()
    expect(await row.locator('.up').innerText()).toBe('connected')
    await page.click(`tr[data-id="${bridge.name}"]`)
    await page.locator(`[data-detail="${bridge.name}"]`, { hasText: `127.0.0.1:${remote.port}` }).waitFor()
    // The page follows the bridge: one more message and its row says so.
    const sentColumn = (await page.locator('thead th').allInnerTexts()).indexOf('messages sent')
    const sent = row.locator('td').nth(sentColumn)
    expect(await sent.innerText()).toBe('1')
    await sensor.publish('sn/temp', '21', { qos: 1 })
    await cloud.inbox.next((m) => m.payload.toString() === '21', 5000, 'second message')
    await page.waitForFunction(([id, column]) => document.querySelector(`tr[data-id="${id}"]`)?.children[column as number]?.textContent === '2', [bridge.name, sentColumn])
    if (process.env.UPDATE_SCREENSHOT === '1') await page.screenshot({ path: BRIDGES_SCREENSHOT })

    await page.click('nav a[data-page="gateways"]')
    const gateway = page.locator('tr[data-id="mqtt-sn"]')
    await gateway.waitFor()
    expect(await gateway.locator('.up').innerText()).toBe('listening')
    const headers = await page.locator('thead th').allInnerTexts()
    expect(await gateway.locator('td').nth(headers.indexOf('clients active')).innerText()).toBe('1')
    expect(await gateway.locator('td').nth(headers.indexOf('messages received')).innerText()).toBe('2')
    await page.context().close()
  })

  it('never turns client ids into markup', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const admin = await startAdminServer({ broker: b.broker, token: TOKEN, liveInterval: 200 })
    await connectClient(b.url, { clientId: '<img src=x onerror="window.owned=1">' })
    const page = await openDashboard(`${admin.url}/clients`)
    await page.locator('tbody tr').waitFor()
    expect(await page.locator('tbody img').count()).toBe(0)
    expect(await page.evaluate(() => (window as unknown as { owned?: number }).owned)).toBeUndefined()
    await page.context().close()
  })
})
