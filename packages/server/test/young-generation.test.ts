import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { SEMI_SPACE_FLAG, semiSpaceChosen } from '../src/young-generation.js'
import { startWren } from './helpers/wren-process.js'

describe("the server's young generation", () => {
  it('counts a semi-space size given as a Node flag or in NODE_OPTIONS as the operator choosing one', () => {
    expect(semiSpaceChosen([], undefined)).toBe(false)
    expect(semiSpaceChosen(['--inspect'], '--max-old-space-size=512')).toBe(false)
    expect(semiSpaceChosen(['--max-semi-space-size=8'], undefined)).toBe(true)
    expect(semiSpaceChosen(['--max_semi_space_size', '8'], undefined)).toBe(true)
    expect(semiSpaceChosen([], '--enable-source-maps  --max-semi-space-size=32')).toBe(true)
  })

  // process.execve came with Node 22.15: on older versions the server keeps V8's sizes and this cannot be observed.
  it.runIf(typeof (process as { execve?: unknown }).execve === 'function')(
    'a wren started without one runs with a 4 MiB semi-space, in the same process',
    async () => {
      const wren = await startWren()
      try {
        const commandLine = (await readFile(`/proc/${wren.child.pid}/cmdline`, 'utf8')).split('\0')
        expect(commandLine).toContain(SEMI_SPACE_FLAG)
      } finally {
        await wren.stop()
      }
    },
  )
})
