import { defineConfig } from 'tsup'
import { libraryBuild } from '../../tsup.base'

// ESM only: vitest, which this suite runs in, loads test files as ESM.
export default defineConfig({ ...libraryBuild, format: ['esm'] })
