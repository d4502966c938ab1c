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
