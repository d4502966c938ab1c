import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parseBridgeFile, resolveBridgeOptions, type BridgeOptions } from '../src/index.js'

// The examples in docs/bridge.md are what users copy: they must load as shown.
const doc = readFileSync(new URL('../../../docs/bridge.md', import.meta.url), 'utf8')
const blocks = [...doc.matchAll(/```([a-z]*)\n([\s\S]*?)```/g)].map((match) => ({ lang: match[1] as string, text: match[2] as string }))

describe('docs/bridge.md examples', () => {
  it('the bridge file example parses into the bridge the JSON example describes', () => {
    const file = blocks.find((block) => block.lang === '' && block.text.startsWith('connection central'))
    const json = blocks.find((block) => block.lang === 'json')
    const [fromFile] = parseBridgeFile(file?.text ?? '', 'bridges.conf')
    const [fromJson] = (JSON.parse(json?.text ?? '{}') as { bridges: BridgeOptions[] }).bridges
    const resolvedFile = resolveBridgeOptions(fromFile as BridgeOptions)
    const resolvedJson = resolveBridgeOptions(fromJson as BridgeOptions)
    expect(resolvedFile.topics.rules).toEqual(resolvedJson.topics.rules)
    expect([resolvedFile.remoteClientId, resolvedFile.addresses]).toEqual([resolvedJson.remoteClientId, resolvedJson.addresses])
  })

  it('the connection block of the mosquitto.conf migration example loads unchanged', () => {
    const conf = blocks.find((block) => block.text.startsWith('listener 1883'))?.text ?? ''
    const [bridge] = parseBridgeFile(conf.slice(conf.indexOf('connection central')), 'bridges.conf')
    expect(bridge).toMatchObject({ name: 'central', remoteClientId: 'site-7', cleanSession: false })
    expect(bridge?.topics).toHaveLength(2)
  })
})
