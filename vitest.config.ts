import { availableParallelism } from 'node:os'
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
    // Generous, because a timeout only ever catches a hang: with two files per core on a machine whose every core
    // is busy, a test that spawns a few broker processes one after the other takes 20 s.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Most test time is spent waiting on sockets, child processes and protocol timers, not on the CPU: two files
    // per core halved the suite's wall time on two cores (the default is one per core).
    maxWorkers: Math.min(8, availableParallelism() * 2),
  },
})
