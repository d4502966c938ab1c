// Children that hold thousands of sockets need the hard open-files limit, not the login shell's soft one.
// `exec` keeps the pid, so the pid the harness watches in /proc is the broker's or generator's own.
const RAISE_LIMIT_AND_EXEC = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"'

/** Arguments for `spawn('/bin/sh', ...)` that raise the open-files limit and then run `argv`. */
export function withRaisedFileLimit(argv) {
  return ['-c', RAISE_LIMIT_AND_EXEC, ...argv]
}
