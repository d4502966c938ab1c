import { defineConfig } from 'tsup'
import { libraryBuild } from '../../tsup.base'

export default defineConfig([
  // Both builds run at once: leave the command's output to the second one.
  { ...libraryBuild, clean: ['!cli.js*'] },
  {
    // The command is ESM only; tsup keeps the shebang and marks the file executable.
    entry: ['src/cli.ts'],
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
  },
])
