import { defineConfig } from 'vitest/config'
import { fileURLToPath } from 'node:url'

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url))

export default defineConfig({
  resolve: {
    alias: {
      '@wren/core': src('core'),
      '@wren/persistence-test-suite': src('persistence-test-suite'),
      '@wren/persistence-redis': src('persistence-redis'),
      '@wren/persistence-sqlite': src('persistence-sqlite'),
      '@wren/auth-file': src('auth-file'),
      '@wren/bridge': src('bridge'),
      '@wren/observability': src('observability'),
      '@wren/gateway-kit': src('gateway-kit'),
      '@wren/gateway-mqttsn': src('gateway-mqttsn'),
      '@wren/gateway-lwm2m': src('gateway-lwm2m'),
      '@wren/server': src('server'),
    },
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'benchmarks/test/**/*.test.ts', 'tests/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
})
