import { defineConfig } from 'tsup'
import { libraryBuild } from '../../tsup.base'

// shims: the CJS build finds the dashboard's assets through import.meta.url as the ESM build does.
export default defineConfig({ ...libraryBuild, shims: true })
