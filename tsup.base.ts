import type { Options } from 'tsup'

/** The build every library package shares: ESM and CJS with type declarations, for Node 20 and later. */
export const libraryBuild: Options = {
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
}
