import { defineConfig } from 'tsup'

export default defineConfig([
  {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    // Both builds run at once: leave the command's output to the second one.
    clean: ['!cli.js*'],
    target: 'node20',
  },
  {
    // The command is ESM only; tsup keeps the shebang and marks the file executable.
    entry: ['src/cli.ts'],
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
  },
])
