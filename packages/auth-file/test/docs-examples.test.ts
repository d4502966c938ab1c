import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { checkPassword, clientAcl, parseAcl, parsePasswordFile } from '../src/index.js'

// The examples in docs/auth.md are what users copy: they must load as shown.
const doc = readFileSync(new URL('../../../docs/auth.md', import.meta.url), 'utf8')
const section = doc.slice(doc.indexOf('## File-based authentication (@wren/auth-file)'))
const blocks = [...section.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((match) => match[1] as string)

describe('docs/auth.md examples', () => {
  it('has a password file example that parses and checks', async () => {
    const example = blocks.find((block) => block.includes(':$scrypt$'))
    expect(example).toBeDefined()
    const entries = parsePasswordFile(example as string)
    expect([...entries.keys()]).toEqual(['alice', 'roger'])
    // roger's line is the Mosquitto $7$ hash of 's3cret' that the hash tests use.
    expect(await checkPassword(entries, 'roger', 's3cret')).toBe(true)
  })

  it('has an ACL example that parses and behaves as the text says', () => {
    const example = blocks.find((block) => block.includes('pattern readwrite devices/%c/#'))
    expect(example).toBeDefined()
    const acl = parseAcl(example as string)
    const ops = clientAcl(acl, { clientId: 'o', username: 'ops team' })
    expect(ops.canSubscribe('#')).toBe(true)
    expect(ops.canRead('secret/x')).toBe(false)
    const roger = clientAcl(acl, { clientId: 'r', username: 'roger' })
    expect(roger.canWrite('foo/bar') && roger.canRead('foo/bar')).toBe(true)
    expect(clientAcl(acl, { clientId: 'a', username: undefined }).canRead('$SYS/broker/uptime')).toBe(true)
  })
})
