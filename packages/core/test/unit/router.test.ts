import { describe, expect, it } from 'vitest'
import { Router } from '../../src/router/router.js'

describe('the router', () => {
  it('keeps a client whose id looks like another member key apart from that shared subscription', () => {
    const router = new Router(100)
    router.add('V', { filter: '$share/G/t', qos: 0 })
    router.add('G\u0000V', { filter: 't', qos: 0 })
    router.add('1:V', { filter: 't', qos: 0 })
    expect(router.match('t').map((entry) => [entry.clientId, entry.subscription.filter]).sort()).toEqual([
      ['1:V', 't'],
      ['G\u0000V', 't'],
      ['V', '$share/G/t'],
    ])
  })
})

describe('the topic-match cache', () => {
  it('keeps ordinary results: the same topic is answered from it', () => {
    const router = new Router(100)
    router.add('c', { filter: 'a/+', qos: 0 })
    const first = router.match('a/b')
    expect(router.match('a/b')).toBe(first)
    expect(router.cachedBytes).toBeGreaterThan(0)
  })

  it('does not keep huge topics: 20 topics of 32 KiB leave it empty, and still match', () => {
    const router = new Router(100)
    router.add('c', { filter: '#', qos: 0 })
    for (let i = 0; i < 20; i++) expect(router.match(`${i}/${'x'.repeat(32 * 1024)}`)).toHaveLength(1)
    expect(router.cachedBytes).toBe(0)
  })

  it('is bounded by bytes when each topic matches thousands of subscriptions (one client, one per shared group)', () => {
    const entries = 50
    const router = new Router(entries)
    for (let g = 0; g < 2000; g++) router.add('c', { filter: `$share/g${g}/#`, qos: 0 })
    for (let i = 0; i < entries; i++) expect(router.match(`t/${i}`)).toHaveLength(2000)
    // 50 results of 2,000 entries each would be some 800 KiB; the bound is 1 KiB per entry of the count.
    expect(router.cachedBytes).toBeGreaterThan(0)
    expect(router.cachedBytes).toBeLessThanOrEqual(entries * 1024)
  })
})
