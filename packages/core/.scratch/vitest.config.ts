import { defineConfig } from 'vitest/config'
export default defineConfig({ test: { include: ['packages/core/.scratch/**/*.test.ts'], testTimeout: 20000, pool: 'forks' } })
