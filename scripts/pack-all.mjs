#!/usr/bin/env node
// Packs every publishable package (packages/*) into one folder, as `pnpm pack` would publish it
// (workspace: ranges replaced by versions): `node scripts/pack-all.mjs [folder]`, default ./packs.
// Prints the tarball paths, one a line. Build first (`pnpm build`): the tarballs hold dist/.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const dest = resolve(process.argv[2] ?? join(root, 'packs'))

const packages = readdirSync(join(root, 'packages'))
  .map((dir) => join(root, 'packages', dir))
  .filter((dir) => !JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).private)
const unbuilt = packages.filter((dir) => !existsSync(join(dir, 'dist')))
if (unbuilt.length > 0) {
  process.stderr.write(`pack-all: build first (pnpm build); no dist in ${unbuilt.join(', ')}\n`)
  process.exit(1)
}

rmSync(dest, { recursive: true, force: true })
mkdirSync(dest, { recursive: true })
// pnpm itself, as the root package.json pins it: run through pnpm the script already has it.
const { packageManager } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const viaPnpm = /pnpm/.test(process.env.npm_execpath ?? '')
const [command, prefix] = viaPnpm ? [process.execPath, [process.env.npm_execpath]] : ['npx', ['-y', packageManager]]
const filters = packages.flatMap((dir) => ['--filter', `./${relative(root, dir)}`])
execFileSync(command, [...prefix, '--recursive', ...filters, 'pack', '--pack-destination', dest], {
  cwd: root,
  stdio: ['ignore', 'ignore', 'inherit'],
})
for (const file of readdirSync(dest).sort()) process.stdout.write(`${join(dest, file)}\n`)
