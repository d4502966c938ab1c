import { describe, expect, it } from 'vitest'
import { Deque } from '../../src/session/deque.js'

describe('the deque', () => {
  it('behaves as empty before its first push and after clear', () => {
    const deque = new Deque<number>()
    expect(deque.length).toBe(0)
    expect(deque.peek()).toBeUndefined()
    expect(deque.shift()).toBeUndefined()
    expect([...deque]).toEqual([])
    deque.push(1)
    deque.push(2)
    deque.clear()
    expect(deque.length).toBe(0)
    expect([...deque]).toEqual([])
    deque.push(3)
    expect([...deque]).toEqual([3])
  })

  it('keeps first-in first-out order across its compaction', () => {
    const deque = new Deque<number>()
    for (let i = 0; i < 3000; i++) deque.push(i)
    for (let i = 0; i < 2000; i++) expect(deque.shift()).toBe(i)
    deque.push(3000)
    expect(deque.length).toBe(1001)
    expect(deque.peek()).toBe(2000)
    expect([...deque].at(-1)).toBe(3000)
  })
})
