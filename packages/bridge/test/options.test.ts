import { describe, expect, it } from 'vitest'
import { BridgeOptionsError, resolveBridgeOptions, type BridgeOptions, type BridgeTls } from '../src/index.js'

const base: BridgeOptions = { name: 'b', addresses: ['127.0.0.1'], topics: [{ pattern: '#' }] }
const problem = (options: BridgeOptions): string => {
  try {
    resolveBridgeOptions(options)
  } catch (error) {
    expect(error).toBeInstanceOf(BridgeOptionsError)
    expect((error as BridgeOptionsError).code).toBe('WREN_BRIDGE_OPTION_INVALID')
    return (error as Error).message
  }
  return 'accepted'
}
// JSON from a config file is not checked by the compiler: a misspelt key must not pass unnoticed
const loose = (extra: Record<string, unknown>): BridgeOptions => ({ ...base, ...extra }) as BridgeOptions
const tls = (given: Record<string, unknown>): BridgeOptions => ({ ...base, tls: given as BridgeTls })

describe('bridge options', () => {
  it.each([
    ['an unknown option', loose({ cleanSesion: true }), 'unknown option cleanSesion'],
    ['an unknown tls option', tls({ cafle: 'ca.pem' }), 'unknown tls option cafle'],
    ['a psk without identity', tls({ psk: '0011' }), 'TLS-PSK needs both identity and psk'],
    ['an identity without psk', tls({ identity: 'me' }), 'TLS-PSK needs both identity and psk'],
    ['a psk that is not hexadecimal', tls({ identity: 'me', psk: 'xyz' }), 'psk must be an even number of hexadecimal digits'],
    ['PSK with a client certificate', tls({ identity: 'me', psk: '0011', certfile: 'c.pem' }), 'exclude each other'],
    ['PSK with requireOcsp', tls({ identity: 'me', psk: '0011', requireOcsp: true }), 'exclude each other'],
  ])('refuses %s', (_what, options, reason) => {
    expect(problem(options)).toContain(reason)
  })

  it('accepts TLS-PSK alone, and certificates with requireOcsp', () => {
    expect(problem(tls({ identity: 'site-7', psk: '0F1e', version: 'tlsv1.2' }))).toBe('accepted')
    expect(problem(tls({ cafile: 'ca.pem', requireOcsp: true }))).toBe('accepted')
  })
})
