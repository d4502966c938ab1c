import { describe, expect, it } from 'vitest'
import { resolveOptions } from '../src/gateway/options.js'
import { TopicRegistry, isReservedTopicId } from '../src/gateway/topic-registry.js'

describe('TopicRegistry', () => {
  it('assigns ids from 1, never a reserved or predefined one, the same id for the same name, up to its limit', () => {
    const registry = new TopicRegistry(3, new Set([2]))
    expect(registry.register('a')).toBe(1)
    expect(registry.register('b')).toBe(3)
    expect(registry.register('a')).toBe(1)
    expect(registry.register('c')).toBe(4)
    expect(registry.register('d')).toBeUndefined()
    registry.remove(3)
    expect(registry.name(3)).toBeUndefined()
    expect(registry.register('d')).toBe(5)
    expect([registry.id('d'), registry.name(5), registry.size]).toEqual([5, 'd', 3])
  })

  it('wraps around past 0xFFFE without handing out 0xFFFF or 0x0000', () => {
    const registry = new TopicRegistry(0xfffe, new Set())
    const ids = new Set<number>()
    for (let i = 0; i < 0xfffe; i++) ids.add(registry.register(`t/${i}`) as number)
    expect(ids.size).toBe(0xfffe)
    expect([...ids].some(isReservedTopicId)).toBe(false)
    registry.remove(7)
    expect(registry.register('again')).toBe(7)
  })

  it('serializes confirmed ids and restores them, skipping what a store should never have held', () => {
    const registry = new TopicRegistry(10, new Set([2]))
    registry.register('a')
    registry.register('b')
    registry.register('pending')
    const json = registry.serialize(new Set([4]))
    expect(JSON.parse(json)).toEqual({ 1: 'a', 3: 'b' })
    const restored = new TopicRegistry(3, new Set([2]))
    restored.restore(JSON.stringify({ ...JSON.parse(json), 0: 'zero', 2: 'predefined', 65535: 'reserved', 9: '', 10: 7, 11: 'a', 12: 'c', 13: 'over' }))
    expect([restored.name(1), restored.name(3), restored.name(12), restored.size]).toEqual(['a', 'b', 'c', 3])
    expect([restored.name(0), restored.name(2), restored.name(11), restored.name(13)]).toEqual([undefined, undefined, undefined, undefined])
    restored.remove(12)
    expect(restored.register('new')).toBe(13)
  })
})

describe('gateway options', () => {
  it('refuses reserved or out-of-range predefined ids and out-of-range limits', () => {
    expect(() => resolveOptions({ predefined: { 0: 'x' } })).toThrow(RangeError)
    expect(() => resolveOptions({ predefined: { 0xffff: 'x' } })).toThrow(RangeError)
    expect(() => resolveOptions({ predefined: { 5: '' } })).toThrow(RangeError)
    expect(() => resolveOptions({ maxDatagramSize: 70_000 })).toThrow(RangeError)
    expect(() => resolveOptions({ gatewayId: 256 })).toThrow(RangeError)
    expect(() => resolveOptions({ gatewayId: 256 })).toThrow(expect.objectContaining({ code: 'WREN_MQTTSN_OPTION_INVALID' }))
    const resolved = resolveOptions({ predefined: { 5: 'p/five' } })
    expect([resolved.predefined.get(5), resolved.predefinedIds.get('p/five'), resolved.qosMinus1]).toEqual(['p/five', 5, true])
  })
})
