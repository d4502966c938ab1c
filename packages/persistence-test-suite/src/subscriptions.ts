/** Stored subscriptions per client: what a broker reloads into its router. */
import { beforeEach, describe, expect, it } from 'vitest'
import type { Persistence, Subscription } from '@wren/core'
import { filtersOf } from './fixtures.js'

export function subscriptionTests(store: () => Persistence): void {
  describe('subscriptions', () => {
    let p: Persistence

    beforeEach(() => {
      p = store()
    })

    const full: Subscription = {
      filter: 'a/+/c',
      qos: 2,
      noLocal: true,
      retainAsPublished: true,
      retainHandling: 2,
      subscriptionIdentifier: 268435455,
    }

    it('adds subscriptions and gets them back, every field intact', async () => {
      await p.subscriptionsAdd('c1', [full, { filter: 'b/#', qos: 0 }])
      const got = await p.subscriptionsGet('c1')
      expect(got.sort((x, y) => x.filter.localeCompare(y.filter))).toEqual([full, { filter: 'b/#', qos: 0 }])
    })

    it('replaces a subscription with the same filter', async () => {
      await p.subscriptionsAdd('c1', [full])
      await p.subscriptionsAdd('c1', [{ filter: 'a/+/c', qos: 0 }])
      expect(await p.subscriptionsGet('c1')).toEqual([{ filter: 'a/+/c', qos: 0 }])
      expect(await p.subscriptionsAll()).toEqual([{ clientId: 'c1', subscriptions: [{ filter: 'a/+/c', qos: 0 }] }])
    })

    it('removes the given filters only, and removing an unknown filter is harmless', async () => {
      await p.subscriptionsAdd('c1', [
        { filter: 'x', qos: 1 },
        { filter: 'y', qos: 1 },
        { filter: 'z', qos: 1 },
      ])
      await p.subscriptionsRemove('c1', ['x', 'z', 'not-there'])
      await p.subscriptionsRemove('nobody', ['x'])
      expect(await p.subscriptionsGet('c1')).toEqual([{ filter: 'y', qos: 1 }])
    })

    it('gets an empty list for a client without subscriptions', async () => {
      expect(await p.subscriptionsGet('nobody')).toEqual([])
    })

    it('lists every subscription grouped by client, leaving out clients with none left', async () => {
      await p.subscriptionsAdd('c1', [{ filter: 'a', qos: 1 }])
      await p.subscriptionsAdd('c2', [
        { filter: 'b', qos: 2 },
        { filter: 'c/#', qos: 0 },
      ])
      await p.subscriptionsAdd('c3', [{ filter: 'd', qos: 1 }])
      await p.subscriptionsRemove('c3', ['d'])
      const all = await p.subscriptionsAll()
      const grouped = Object.fromEntries(all.map(({ clientId, subscriptions }) => [clientId, filtersOf(subscriptions)]))
      expect(grouped).toEqual({ c1: ['a'], c2: ['b', 'c/#'] })
    })

    it('keeps a shared subscription apart from a plain one on the same inner filter, full filter kept', async () => {
      await p.subscriptionsAdd('c1', [
        { filter: '$share/workers/jobs/+', qos: 1 },
        { filter: 'jobs/+', qos: 0 },
        { filter: '$share/others/jobs/+', qos: 2 },
      ])
      await p.subscriptionsRemove('c1', ['$share/workers/jobs/+'])
      expect(filtersOf(await p.subscriptionsGet('c1'))).toEqual(['$share/others/jobs/+', 'jobs/+'])
    })

    it('keeps client ids and filters apart whatever characters they hold', async () => {
      await p.subscriptionsAdd('a\u0000b', [{ filter: 'c', qos: 1 }])
      await p.subscriptionsAdd('a', [{ filter: 'b\u0000c', qos: 0 }])
      await p.subscriptionsAdd('1:x', [{ filter: 'c', qos: 0 }])
      await p.subscriptionsAdd('ü😀', [{ filter: 'häuser/+/🔥', qos: 2 }])
      expect(await p.subscriptionsGet('a\u0000b')).toEqual([{ filter: 'c', qos: 1 }])
      expect(await p.subscriptionsGet('a')).toEqual([{ filter: 'b\u0000c', qos: 0 }])
      expect(await p.subscriptionsGet('ü😀')).toEqual([{ filter: 'häuser/+/🔥', qos: 2 }])
      const all = await p.subscriptionsAll()
      expect(Object.fromEntries(all.map(({ clientId, subscriptions }) => [clientId, filtersOf(subscriptions)]))).toEqual({
        '1:x': ['c'],
        a: ['b\u0000c'],
        'a\u0000b': ['c'],
        'ü😀': ['häuser/+/🔥'],
      })
    })

    it('hands out copies: changing a returned subscription does not change the store', async () => {
      await p.subscriptionsAdd('c1', [{ ...full }])
      const [got] = await p.subscriptionsGet('c1')
      if (got) got.qos = 0
      expect(await p.subscriptionsGet('c1')).toEqual([full])
    })
  })
}
