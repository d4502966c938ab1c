import { describe, expect, it } from 'vitest'
import { ContentFormat, decodeContent, decodeTlv, encodeContent, encodeTlv, ObjectRegistry, parseLinks, parseObjectXml, parsePath, TlvError } from '../src/index.js'

const registry = new ObjectRegistry()

describe('TLV (LwM2M 1.0 §6.4.3)', () => {
  it('decodes a Device object instance: 8-bit length, multiple resource, resource instances', () => {
    const resources = Buffer.from('c800' + '12' + Buffer.from('Hello World World!').toString('hex') + 'c1096f' + '8606' + '410001' + '410142' + 'c10b00', 'hex')
    const bytes = Buffer.concat([Buffer.from([0x08, 0x00, resources.length]), resources])
    const [instance] = decodeTlv(bytes)
    expect(instance?.kind).toBe('objectInstance')
    expect(instance?.children?.map((c) => [c.kind, c.id])).toEqual([
      ['resource', 0],
      ['resource', 9],
      ['multipleResource', 6],
      ['resource', 11],
    ])
    expect(decodeContent(ContentFormat.tlv, bytes, [3], registry)).toEqual([
      { path: '/3/0/0', value: 'Hello World World!' },
      { path: '/3/0/9', value: 111 },
      { path: '/3/0/6/0', value: 1 },
      { path: '/3/0/6/1', value: 66 },
      { path: '/3/0/11', value: 0 },
    ])
  })

  it('round-trips 16-bit ids and 8/16/24-bit lengths', () => {
    for (const size of [3, 7, 8, 255, 256, 65535, 65536]) {
      const value = Buffer.alloc(size, 0x61)
      const [decoded] = decodeTlv(encodeTlv([{ kind: 'resource', id: 5700, value }]))
      expect([decoded?.kind, decoded?.id, decoded?.value?.equals(value)]).toEqual(['resource', 5700, true])
    }
  })

  it('rejects truncated input and misplaced entries', () => {
    expect(() => decodeTlv(Buffer.from([0xc8, 0x00, 0x05, 0x41]))).toThrow(TlvError)
    expect(() => decodeTlv(Buffer.from([0xe8]))).toThrow(TlvError)
    expect(() => decodeTlv(Buffer.from([0x03, 0x00, 0x41, 0x00, 0x01]))).toThrow(TlvError)
  })

  it('types values by the object definitions: Integer widths, Float 32/64, Boolean, Time, Objlnk, Opaque', () => {
    const value = (id: number, bytes: number[]) => ({ kind: 'resource' as const, id, value: Buffer.from(bytes) })
    const f32 = Buffer.alloc(4)
    f32.writeFloatBE(1.5)
    const tlv = encodeTlv([value(9, [0xff, 0x9c]), value(13, [0, 0, 0, 0, 0x65, 0x53, 0xf1, 0]), { kind: 'resource', id: 22, value: Buffer.from([0, 3, 0, 1]) }])
    expect(decodeContent(ContentFormat.tlv, tlv, [3, 0], registry)).toEqual([
      { path: '/3/0/9', value: -100 },
      { path: '/3/0/13', value: 1700000000 },
      { path: '/3/0/22', value: '3:1' },
    ])
    expect(decodeContent(ContentFormat.tlv, encodeTlv([{ kind: 'resource', id: 5700, value: f32 }]), [3303, 0, 5700], registry)).toEqual([{ path: '/3303/0/5700', value: 1.5 }])
    expect(decodeContent(ContentFormat.tlv, encodeTlv([value(0, [1, 2])]), [5, 0, 0], registry)).toEqual([{ path: '/5/0/0', value: 'AQI=' }])
    expect(() => decodeContent(ContentFormat.tlv, encodeTlv([value(9, [1, 2, 3])]), [3, 0, 9], registry)).toThrow()
  })

  it('encodes writes as the object definitions type them, inferring the rest', () => {
    const bytes = encodeContent(ContentFormat.tlv, [{ path: [3, 0, 13], value: 1 }, { path: [3, 0, 14], value: '+01' }, { path: [3, 0, 99], value: 2.5 }], [3, 0], registry)
    const decoded = decodeTlv(bytes)
    expect(decoded.map((e) => [e.id, e.value?.toString('hex')])).toEqual([
      [13, '01'],
      [14, Buffer.from('+01').toString('hex')],
      [99, '4004000000000000'],
    ])
    const multi = encodeContent(ContentFormat.tlv, [{ path: [3, 0, 6, 0], value: 1 }, { path: [3, 0, 6, 1], value: 5 }], [3, 0, 6], registry)
    expect(decodeTlv(multi)).toEqual([{ kind: 'multipleResource', id: 6, children: [{ kind: 'resourceInstance', id: 0, value: Buffer.from([1]) }, { kind: 'resourceInstance', id: 1, value: Buffer.from([5]) }] }])
  })
})

describe('OMA JSON (§6.4.4), text (§6.4.1), opaque, link-format', () => {
  it('decodes base name plus names, all value kinds', () => {
    const payload = Buffer.from(JSON.stringify({ bn: '/3/0/', e: [{ n: '0', sv: 'ACME' }, { n: '6/0', v: 1 }, { n: '9', v: 87 }, { n: '99', bv: true }, { n: '22', ov: '3:1' }] }))
    expect(decodeContent(ContentFormat.json, payload, [3, 0], registry)).toEqual([
      { path: '/3/0/0', value: 'ACME' },
      { path: '/3/0/6/0', value: 1 },
      { path: '/3/0/9', value: 87 },
      { path: '/3/0/99', value: true },
      { path: '/3/0/22', value: '3:1' },
    ])
    expect(() => decodeContent(ContentFormat.json, Buffer.from('{"e":[{"n":"0"}]}'), [3, 0], registry)).toThrow()
    expect(() => decodeContent(ContentFormat.json, Buffer.from('nope'), [3, 0], registry)).toThrow()
  })

  it('encodes writes with the record kind of the resource type', () => {
    const bytes = encodeContent(ContentFormat.json, [{ path: [3311, 0, 5850], value: 1 }, { path: [3311, 0, 5851], value: '40' }, { path: [3311, 0, 5706], value: 'red' }], [3311, 0], registry)
    expect(JSON.parse(bytes.toString())).toEqual({ bn: '/3311/0/', e: [{ n: '5850', bv: true }, { n: '5851', v: 40 }, { n: '5706', sv: 'red' }] })
  })

  it('text and opaque carry exactly one resource', () => {
    expect(decodeContent(ContentFormat.text, Buffer.from('1'), [3311, 0, 5850], registry)).toEqual([{ path: '/3311/0/5850', value: true }])
    expect(decodeContent(ContentFormat.text, Buffer.from('-7'), [3, 0, 9], registry)).toEqual([{ path: '/3/0/9', value: -7 }])
    expect(() => decodeContent(ContentFormat.text, Buffer.from('x'), [3, 0, 9], registry)).toThrow()
    expect(() => decodeContent(ContentFormat.text, Buffer.from('1'), [3], registry)).toThrow()
    expect(encodeContent(ContentFormat.text, [{ path: [3311, 0, 5850], value: true }], [3311, 0, 5850], registry).toString()).toBe('1')
    expect(() => encodeContent(ContentFormat.opaque, [{ path: [5, 0], value: 'AA==' }], [5, 0], registry)).toThrow()
  })

  it('link-format: quoted commas and semicolons stay inside their attribute', () => {
    expect(parseLinks('</lwm2m>;rt="oma.lwm2m";ct=11543, </3/0>;title="a,b;c",</5>')).toEqual([
      { target: '/lwm2m', attributes: { rt: 'oma.lwm2m', ct: '11543' } },
      { target: '/3/0', attributes: { title: 'a,b;c' } },
      { target: '/5', attributes: {} },
    ])
    expect(() => parseLinks('3/0')).toThrow()
  })

  it('paths: 1 to 4 ids of 0-65535', () => {
    expect(parsePath('/3303/0/5700/1')).toEqual([3303, 0, 5700, 1])
    expect(parsePath('3/0/')).toEqual([3, 0])
    for (const bad of ['', '/', '/a', '/1/2/3/4/5', '/70000', '/-1']) expect(parsePath(bad)).toBeUndefined()
  })
})

describe('object definitions from OMA registry XML', () => {
  it('loads ids, names, types and operations, and types values with them', () => {
    const xml = `<?xml version="1.0" encoding="utf-8"?>
<LWM2M xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Object ObjectType="MODefinition">
    <Name>Water Meter</Name>
    <Description1><![CDATA[A meter. </Item> inside a description must not end the item.]]></Description1>
    <ObjectID>3424</ObjectID>
    <MultipleInstances>Multiple</MultipleInstances>
    <Resources>
      <Item ID="1"><Name>Cumulated water volume</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances><Mandatory>Mandatory</Mandatory><Type>Float</Type></Item>
      <Item ID="6"><Name>Type</Name><Operations>RW</Operations><MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory><Type>Unsigned Integer</Type></Item>
    </Resources>
  </Object>
</LWM2M>`
    const [object] = parseObjectXml(xml)
    expect(object).toMatchObject({ id: 3424, name: 'Water Meter', multiple: true })
    expect(object?.resources[1]).toEqual({ id: 1, name: 'Cumulated water volume', operations: 'R', multiple: false, mandatory: true, type: 'Float' })
    expect(object?.resources[6]?.type).toBe('Integer')
    const withMeter = new ObjectRegistry([object!])
    expect(decodeContent(ContentFormat.tlv, encodeTlv([{ kind: 'resource', id: 6, value: Buffer.from([7]) }]), [3424, 0, 6], withMeter)).toEqual([{ path: '/3424/0/6', value: 7 }])
  })
})
