// Wren dashboard: plain JS, no build step. Everything the broker reports arrives as text and is shown with
// textContent only: client ids, user names and topics come from clients and must never become markup.

const TOKEN_KEY = 'wren-admin-token'
const HISTORY = 60
const base = new URL(document.baseURI).pathname
const main = document.getElementById('main')

/** Overviews as they arrive, newest last, for the charts. */
const samples = []
let latest = null
let pageRefresh = null

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value)
    else if (value !== undefined && value !== null && value !== false) el.setAttribute(key, value === true ? '' : String(value))
  }
  for (const child of children.flat()) if (child !== null && child !== undefined) el.append(child instanceof Node ? child : String(child))
  return el
}

function svg(tag, attrs = {}) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag)
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value))
  return el
}

function headers() {
  const token = localStorage.getItem(TOKEN_KEY)
  return token ? { authorization: `Bearer ${token}` } : {}
}

function askForToken() {
  const form = document.getElementById('login')
  main.hidden = true
  form.hidden = false
  form.onsubmit = (event) => {
    event.preventDefault()
    localStorage.setItem(TOKEN_KEY, document.getElementById('token').value)
    location.reload()
  }
}

async function api(path, options = {}) {
  const response = await fetch(`api/v1/${path}`, { ...options, headers: { ...headers(), ...(options.headers ?? {}) } })
  if (response.status === 401) {
    askForToken()
    throw new Error('unauthorized')
  }
  const body = await response.json()
  if (!response.ok) throw new Error(body.error ? `${body.error.code}: ${body.error.message}` : response.statusText)
  return body
}

// ---- live feed (server-sent events read through fetch, so the token travels in a header) ----

async function follow() {
  const live = document.getElementById('live')
  for (;;) {
    try {
      const response = await fetch('api/v1/events', { headers: headers() })
      if (response.status === 401) return askForToken()
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
      live.textContent = 'live'
      live.classList.add('on')
      let buffer = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buffer += value
        let end
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const data = block.split('\n').filter((line) => line.startsWith('data: ')).map((line) => line.slice(6)).join('\n')
          if (data) receive(JSON.parse(data))
        }
      }
    } catch {
      // The broker restarted or the network hiccuped: show it and try again.
    }
    live.textContent = 'reconnecting'
    live.classList.remove('on')
    await new Promise((resolve) => setTimeout(resolve, 2000))
  }
}

function receive(overview) {
  const previous = samples[samples.length - 1]
  const seconds = previous ? Math.max((overview.at - previous.at) / 1000, 0.001) : 1
  overview.rates = previous
    ? {
        received: Math.max(0, (overview.messages.received - previous.messages.received) / seconds),
        sent: Math.max(0, (overview.messages.sent - previous.messages.sent) / seconds),
        dropped: Math.max(0, (overview.messages.dropped - previous.messages.dropped) / seconds),
      }
    : { received: 0, sent: 0, dropped: 0 }
  samples.push(overview)
  if (samples.length > HISTORY) samples.shift()
  latest = overview
  document.getElementById('node').textContent = overview.node
  if (currentPage() === '') updateOverview()
  else if (pageRefresh) void pageRefresh()
}

// ---- formatting ----

const number = (n) => (Number.isInteger(n) ? n.toLocaleString('en') : n.toFixed(1))
function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`
}
function duration(seconds) {
  const d = Math.floor(seconds / 86400), hr = Math.floor((seconds % 86400) / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60
  return d > 0 ? `${d}d ${hr}h` : hr > 0 ? `${hr}h ${m}m` : m > 0 ? `${m}m ${s}s` : `${s}s`
}
const since = (ms) => (ms ? new Date(ms).toLocaleString() : '')

// ---- overview ----

const CARDS = [
  ['clients', 'Clients connected', (o) => number(o.clients.connected)],
  ['maximum', 'Most clients', (o) => number(o.clients.maximum)],
  ['sessions-online', 'Sessions online', (o) => number(o.sessions.online)],
  ['sessions-offline', 'Sessions offline', (o) => number(o.sessions.offline)],
  ['subscriptions', 'Subscriptions', (o) => number(o.subscriptions)],
  ['retained', 'Retained', (o) => number(o.retainedMessages)],
  ['offline-queued', 'Offline queues', (o) => number(o.offlineQueued.messages)],
  ['offline-bytes', 'Offline queue size', (o) => bytes(o.offlineQueued.bytes)],
  ['in-rate', 'Messages in /s', (o) => number(o.rates.received)],
  ['out-rate', 'Messages out /s', (o) => number(o.rates.sent)],
  ['drop-rate', 'Dropped /s', (o) => number(o.rates.dropped)],
  ['received', 'Messages in', (o) => number(o.messages.received)],
  ['sent', 'Messages out', (o) => number(o.messages.sent)],
  ['dropped', 'Dropped', (o) => number(o.messages.dropped)],
  ['memory', 'Heap used', (o) => bytes(o.memory.heapUsed)],
  ['rss', 'Resident memory', (o) => bytes(o.memory.rss)],
  ['lag', 'Event-loop lag p99', (o) => `${o.eventLoopLag.p99.toFixed(1)} ms`],
  ['uptime', 'Uptime', (o) => duration(o.uptimeSeconds)],
]

const CHARTS = [
  ['connections', 'Clients connected', [['connected', (o) => o.clients.connected]]],
  ['messages', 'Messages per second', [['in', (o) => o.rates.received], ['out', (o) => o.rates.sent], ['dropped', (o) => o.rates.dropped]]],
  ['memory', 'Heap used (MiB)', [['heap', (o) => o.memory.heapUsed / 1048576]]],
  ['lag', 'Event-loop lag p99 (ms)', [['p99', (o) => o.eventLoopLag.p99]]],
]

function renderOverview() {
  main.replaceChildren(
    h('section', { class: 'cards' }, CARDS.map(([id, label]) => h('div', { class: 'card' }, h('div', { class: 'label' }, label), h('div', { class: 'value', 'data-stat': id }, '–')))),
    h('section', { class: 'charts' }, CHARTS.map(([id, title, series]) => {
      const chart = svg('svg', { viewBox: `0 0 ${HISTORY - 1} 100`, preserveAspectRatio: 'none', 'data-chart': id })
      for (const y of [25, 50, 75]) chart.append(svg('line', { class: 'grid', x1: 0, x2: HISTORY - 1, y1: y, y2: y }))
      series.forEach(([name], i) => chart.append(svg('polyline', { class: `s${i}`, 'data-series': name, points: '' })))
      return h('div', { class: 'chart' },
        h('h3', {}, title, ' ', h('span', { class: 'legend' }, series.map(([name], i) => h('span', {}, h('i', { class: `s${i}` }), name)))),
        h('div', { class: 'legend' }, 'max ', h('span', { 'data-max': id }, '0')),
        chart)
    })),
  )
  updateOverview()
}

function updateOverview() {
  if (!latest) return
  for (const [id, , format] of CARDS) {
    const el = main.querySelector(`[data-stat="${id}"]`)
    if (el) el.textContent = format(latest)
  }
  for (const [id, , series] of CHARTS) {
    const chart = main.querySelector(`[data-chart="${id}"]`)
    if (!chart) continue
    const max = Math.max(1, ...series.flatMap(([, read]) => samples.map(read)))
    const offset = HISTORY - samples.length
    for (const [name, read] of series) {
      const points = samples.map((o, i) => `${offset + i},${(100 - (read(o) / max) * 95).toFixed(2)}`).join(' ')
      chart.querySelector(`[data-series="${name}"]`).setAttribute('points', points)
    }
    main.querySelector(`[data-max="${id}"]`).textContent = number(max)
  }
}

// ---- list pages ----

function errorLine(error) {
  return h('p', { class: 'error' }, error.message)
}

function details(pairs) {
  return h('dl', {}, pairs.flatMap(([label, value]) => [h('dt', {}, label), h('dd', {}, value)]))
}

/**
 * The shape every list page shares: a toolbar, a table filled from one API path, a detail area below it.
 * `path()` names the list to load; `columns` is a list of [title, cell, mono] or a function of the items giving
 * one; rows carry `data-id` = `key(item)`; clicking one calls `onSelect(item)`.
 */
function listPage(spec) {
  const { toolbar, path, noun, key, onSelect, live } = spec
  const list = h('div')
  const detail = h('div')
  const count = h('span', { class: 'count' })
  main.replaceChildren(h('div', { class: 'toolbar' }, ...toolbar, count), list, detail)
  const view = {
    detail,
    selected: null,
    async refresh() {
      try {
        const page = await api(path())
        const columns = typeof spec.columns === 'function' ? spec.columns(page.items) : spec.columns
        count.textContent = `${page.total} ${noun}`
        list.replaceChildren(h('table', {},
          h('thead', {}, h('tr', {}, columns.map(([title]) => h('th', {}, title)))),
          h('tbody', {}, page.items.map((item) => h('tr', { 'data-id': key(item), class: key(item) === view.selected ? 'selected' : undefined, onclick: onSelect ? () => select(item) : undefined },
            columns.map(([, cell, mono]) => h('td', { class: mono ? 'mono' : undefined }, cell(item))))))))
      } catch (error) {
        list.replaceChildren(errorLine(error))
      }
    },
    /** Runs an operator action, then shows its error (if any) and the list as it is now. */
    async act(question, action) {
      if (!confirm(question)) return
      try {
        await action()
      } catch (error) {
        detail.replaceChildren(errorLine(error))
      }
      await view.refresh()
    },
  }
  function select(item) {
    view.selected = key(item)
    for (const row of list.querySelectorAll('tr[data-id]')) row.classList.toggle('selected', row.dataset.id === view.selected)
    onSelect(item)
  }
  pageRefresh = live ? () => view.refresh().then(() => live(view)) : null
  void view.refresh()
  return view
}

const protocol = (version) => (version === 5 ? '5.0' : version === 4 ? '3.1.1' : '3.1')
const searchBox = (placeholder, onInput) => h('input', { type: 'search', placeholder, oninput: (e) => onInput(e.target.value) })

// ---- clients ----

function renderClients() {
  let query = ''
  async function showDetail(view) {
    if (view.selected === null) return view.detail.replaceChildren()
    try {
      const c = await api(`clients/${encodeURIComponent(view.selected)}`)
      view.detail.replaceChildren(h('div', { class: 'detail', 'data-detail': c.id },
        h('h3', {}, c.id),
        details([
          ['User name', c.username ?? ''], ['Address', c.address ?? ''], ['Transport', c.transport], ['Protocol', `MQTT ${protocol(c.protocolVersion)}`],
          ['Connected since', since(c.connectedAt)], ['Keepalive', `${c.keepalive} s`], ['Session expiry', `${c.sessionExpiryInterval} s`],
          ['In flight', number(c.inflight)], ['Queued', number(c.queued)], ['Messages in / out', `${number(c.messagesIn)} / ${number(c.messagesOut)}`],
          ['Bytes in / out', `${bytes(c.bytesIn)} / ${bytes(c.bytesOut)}`],
          ['Subscriptions', c.subscriptions.map((s) => `${s.filter} (QoS ${s.qos})`).join(', ') || 'none'],
        ])))
    } catch {
      view.selected = null
      view.detail.replaceChildren()
    }
  }
  const view = listPage({
    toolbar: [searchBox('client id or user name', (value) => { query = value; void view.refresh() })],
    path: () => `clients?limit=1000&q=${encodeURIComponent(query)}`,
    noun: 'connected',
    key: (c) => c.id,
    columns: [
      ['Client id', (c) => c.id, true],
      ['User name', (c) => c.username ?? ''],
      ['Address', (c) => c.address ?? '', true],
      ['Transport', (c) => c.transport],
      ['MQTT', (c) => protocol(c.protocolVersion)],
      ['Connected since', (c) => since(c.connectedAt)],
      ['In', (c) => number(c.messagesIn)],
      ['Out', (c) => number(c.messagesOut)],
      ['Subs', (c) => number(c.subscriptions.length)],
      ['', (c) => h('button', { class: 'danger', 'data-kick': c.id, onclick: (e) => { e.stopPropagation(); void kick(c.id) } }, 'Kick')],
    ],
    onSelect: () => showDetail(view),
    live: showDetail,
  })
  const kick = (id) => view.act(`Disconnect client ${id}?`, () => api(`clients/${encodeURIComponent(id)}`, { method: 'DELETE' }))
}

// ---- sessions ----

function renderSessions() {
  let state = ''
  const select = h('select', { onchange: (e) => { state = e.target.value; void view.refresh() } }, ['', 'online', 'offline'].map((value) => h('option', { value }, value || 'all')))
  const remove = (id) => view.act(`Delete the session of ${id}? Its subscriptions and queued messages go.`, () => api(`sessions/${encodeURIComponent(id)}`, { method: 'DELETE' }))
  const view = listPage({
    toolbar: ['State ', select],
    path: () => `sessions?limit=1000${state ? `&state=${state}` : ''}`,
    noun: 'sessions',
    key: (s) => s.clientId,
    columns: [
      ['Client id', (s) => s.clientId, true],
      ['State', (s) => s.state],
      ['Node', (s) => s.node ?? '', true],
      ['Expiry', (s) => (s.expiryInterval >= 0xffffffff ? 'never' : `${s.expiryInterval} s`)],
      ['Offline since', (s) => since(s.disconnectedAt)],
      ['', (s) => h('button', { class: 'danger', 'data-delete': s.clientId, onclick: () => remove(s.clientId) }, 'Delete')],
    ],
    live: () => {},
  })
}

// ---- subscriptions ----

function renderSubscriptions() {
  const params = { clientId: '', topic: '' }
  const filterBy = (name, placeholder) => searchBox(placeholder, (value) => { params[name] = value; void view.refresh() })
  const view = listPage({
    toolbar: [filterBy('clientId', 'client id'), filterBy('topic', 'matching topic')],
    path: () => `subscriptions?limit=1000${Object.entries(params).filter(([, v]) => v).map(([k, v]) => `&${k}=${encodeURIComponent(v)}`).join('')}`,
    noun: 'subscriptions',
    key: (s) => `${s.clientId} ${s.filter}`,
    columns: [
      ['Client id', (s) => s.clientId, true],
      ['Filter', (s) => s.filter, true],
      ['QoS', (s) => s.qos],
      ['Shared', (s) => (s.shared ? 'yes' : '')],
      ['Options', (s) => [s.noLocal && 'no local', s.retainAsPublished && 'retain as published', s.subscriptionIdentifier && `id ${s.subscriptionIdentifier}`].filter(Boolean).join(', ')],
    ],
  })
}

// ---- retained ----

function renderRetained() {
  let filter = '#'
  const input = h('input', { type: 'search', value: filter, placeholder: 'topic filter', onchange: (e) => { filter = e.target.value || '#'; void view.refresh() } })
  async function show(m) {
    try {
      const message = await api(`retained/${encodeURIComponent(m.topic)}`)
      view.detail.replaceChildren(h('div', { class: 'detail', 'data-detail': message.topic },
        h('h3', { class: 'mono' }, message.topic),
        details([['QoS', message.qos], ['Size', bytes(message.size)], ['Encoding', message.encoding]]),
        h('pre', {}, message.payload),
        h('button', { class: 'danger', onclick: () => remove(message.topic) }, 'Delete retained message')))
    } catch (error) {
      view.detail.replaceChildren(errorLine(error))
    }
  }
  const remove = (topic) => view.act(`Clear the retained message of ${topic}?`, async () => {
    await api(`retained/${encodeURIComponent(topic)}`, { method: 'DELETE' })
    view.detail.replaceChildren()
  })
  const view = listPage({
    toolbar: ['Filter ', input],
    path: () => `retained?limit=1000&filter=${encodeURIComponent(filter)}`,
    noun: 'retained',
    key: (m) => m.topic,
    columns: [
      ['Topic', (m) => m.topic, true],
      ['QoS', (m) => m.qos],
      ['Size', (m) => bytes(m.size)],
      ['Payload', (m) => (m.encoding === 'utf8' ? m.payload.slice(0, 80) : '(binary)'), true],
    ],
    onSelect: show,
  })
}

// ---- bridges and gateways ----

/** Metric names as column titles: `messages_received` -> `messages received`. */
const title = (name) => name.replace(/_/g, ' ')

/** A detail value as text: lists joined, objects as `key value` pairs. */
function detailText(value) {
  if (Array.isArray(value)) return value.join(', ')
  if (typeof value === 'object' && value !== null) return Object.entries(value).map(([k, v]) => `${k} ${v}`).join(', ')
  return String(value ?? '')
}

/** One page for a kind of component (bridge, gateway): a row each with its state and numbers, details below. */
function renderComponents(collection, noun) {
  async function show(view) {
    if (view.selected === null) return view.detail.replaceChildren()
    try {
      const c = await api(`${collection}/${encodeURIComponent(view.selected)}`)
      view.detail.replaceChildren(h('div', { class: 'detail', 'data-detail': c.name },
        h('h3', {}, c.name),
        details([['State', c.state], ...Object.entries(c.values).map(([name, value]) => [title(name), number(value)]),
          ...Object.entries(c.details ?? {}).map(([name, value]) => [name, detailText(value)])])))
    } catch {
      view.selected = null
      view.detail.replaceChildren()
    }
  }
  const view = listPage({
    toolbar: [],
    path: () => `${collection}?limit=1000`,
    noun,
    key: (c) => c.name,
    // The numbers the components declare become the columns (the first one listed decides them).
    columns: (items) => [
      ['Name', (c) => c.name, true],
      ['State', (c) => h('span', { class: c.up ? 'up' : 'down', 'data-state': c.name }, c.state)],
      ...Object.keys(items[0]?.values ?? {}).map((name) => [title(name), (c) => number(c.values[name] ?? 0)]),
    ],
    onSelect: () => show(view),
    live: show,
  })
}

// ---- navigation ----

const PAGES = {
  '': renderOverview,
  clients: renderClients,
  sessions: renderSessions,
  subscriptions: renderSubscriptions,
  retained: renderRetained,
  bridges: () => renderComponents('bridges', 'bridges'),
  gateways: () => renderComponents('gateways', 'gateways'),
}

function currentPage() {
  const page = location.pathname.startsWith(base) ? location.pathname.slice(base.length) : ''
  return page in PAGES ? page : ''
}

function render() {
  pageRefresh = null
  const page = currentPage()
  for (const link of document.querySelectorAll('header nav a')) link.classList.toggle('active', link.dataset.page === page)
  PAGES[page]()
}

document.querySelector('header nav').addEventListener('click', (event) => {
  const link = event.target.closest('a')
  if (!link) return
  event.preventDefault()
  history.pushState(null, '', link.href)
  render()
})
window.addEventListener('popstate', render)

render()
void follow()
