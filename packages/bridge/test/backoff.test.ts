import { describe, expect, it } from 'vitest'
import { Backoff } from '../src/backoff.js'

describe('reconnection backoff (decorrelated jitter)', () => {
  it('stays between base and cap and grows at most threefold per step', () => {
    const backoff = new Backoff({ base: 5, cap: 30 })
    let previous = 5000
    for (let i = 0; i < 1000; i++) {
      const delay = backoff.next()
      expect(delay).toBeGreaterThanOrEqual(5000)
      expect(delay).toBeLessThanOrEqual(Math.min(30_000, previous * 3))
      previous = delay
    }
  })

  it('draws from [base, 3 x previous]: lowest and highest draws', () => {
    const low = new Backoff({ base: 1, cap: 100 }, () => 0)
    expect([low.next(), low.next()]).toEqual([1000, 1000])
    const high = new Backoff({ base: 1, cap: 100 }, () => 1)
    expect([high.next(), high.next(), high.next(), high.next(), high.next()]).toEqual([3000, 9000, 27_000, 81_000, 100_000])
    high.reset()
    expect(high.next()).toBe(3000)
  })

  it('is constant with one value (restart_timeout N)', () => {
    const backoff = new Backoff({ base: 20, cap: 20 })
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([20_000, 20_000, 20_000])
  })
})
