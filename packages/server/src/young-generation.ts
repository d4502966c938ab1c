/**
 * V8 sizes its young generation for throughput: semi-spaces of up to 16 MiB on Node 20 and 22, 64 MiB on Node 24.
 * Under a flood a broker reaches that maximum, and it becomes RSS (docs/flow-control.md). The server runs with a
 * 4 MiB semi-space, which was never slower in the benchmarks, unless the operator chose a size.
 */
export const SEMI_SPACE_FLAG = '--max-semi-space-size=4'

const semiSpaceFlag = /^--max[-_]semi[-_]space[-_]size(=|$)/

/** Whether the Node flags this process started with (its own or `NODE_OPTIONS`) already size the semi-space. */
export function semiSpaceChosen(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  return execArgv.some((arg) => semiSpaceFlag.test(arg)) || (nodeOptions ?? '').split(/\s+/).some((arg) => semiSpaceFlag.test(arg))
}

type Execve = (file: string, args: string[], env: NodeJS.ProcessEnv) => never

/**
 * Replaces this process with the same command plus {@link SEMI_SPACE_FLAG}, keeping its pid, so that a supervisor
 * or a terminal sees one process. Node gained `process.execve` in 22.15: on older versions the server runs at V8's
 * sizes (`pnpm start` and `NODE_OPTIONS` pass the flag there).
 */
export function relaunchWithSmallYoungGeneration(): void {
  const execve = (process as { execve?: Execve }).execve
  if (typeof execve !== 'function' || semiSpaceChosen(process.execArgv, process.env.NODE_OPTIONS)) return
  execve(process.execPath, [process.execPath, SEMI_SPACE_FLAG, ...process.execArgv, ...process.argv.slice(1)], process.env)
}
