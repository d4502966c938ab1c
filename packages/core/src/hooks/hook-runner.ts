import type { HookName, HookOptions, HookResult, Hooks } from './hook-types.js'
import { ErrorCode, UsageError } from '../errors.js'

const HOOK_NAMES: readonly HookName[] = [
  'preConnect',
  'authenticate',
  'authorizePublish',
  'authorizeSubscribe',
  'authorizeForward',
  'published',
  'authenticateExchange',
]

export type HookChains = { [K in HookName]: Array<Hooks[K]> }

function isThenable<T>(value: HookResult<T>): value is Promise<T> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}

export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value))
}

export function createHookChains(options: HookOptions | undefined): HookChains {
  const chains = {} as { [K in HookName]: Array<Hooks[K]> }
  for (const name of HOOK_NAMES) (chains as Record<HookName, unknown[]>)[name] = []
  if (options) {
    for (const [name, value] of Object.entries(options)) {
      if (value === undefined) continue
      for (const hook of Array.isArray(value) ? value : [value]) addHook(chains, name as HookName, hook as Hooks[HookName])
    }
  }
  return chains
}

export function addHook<K extends HookName>(chains: HookChains, name: K, hook: Hooks[K]): void {
  if (!HOOK_NAMES.includes(name)) {
    throw new UsageError(ErrorCode.HookUnknown, `no hook named '${String(name)}'; known hooks: ${HOOK_NAMES.join(', ')}`)
  }
  if (typeof hook !== 'function') throw new UsageError(ErrorCode.HookNotFunction, `hook '${name}' must be a function`)
  chains[name].push(hook)
}

/**
 * Runs a chain: each hook answers, or returns undefined for "no opinion, ask the next".
 * Synchronous answers are taken synchronously, so a chain of plain functions costs no promise.
 * A hook that throws or rejects ends the chain with the error (callers deny on error).
 */
export function runChain<F, R>(
  chain: readonly F[],
  invoke: (hook: F) => HookResult<R | undefined>,
  done: (error: Error | null, answer: R | undefined) => void,
): void {
  let index = 0
  const next = (): void => {
    while (index < chain.length) {
      let result: HookResult<R | undefined>
      try {
        result = invoke(chain[index++] as F)
      } catch (error) {
        done(toError(error), undefined)
        return
      }
      if (isThenable(result)) {
        result.then(
          (answer) => (answer === undefined ? next() : done(null, answer)),
          (error: unknown) => done(toError(error), undefined),
        )
        return
      }
      if (result !== undefined) {
        done(null, result)
        return
      }
    }
    done(null, undefined)
  }
  next()
}

/** runChain for code that is not on the hot path and reads better with await. */
export function runChainAsync<F, R>(chain: readonly F[], invoke: (hook: F) => HookResult<R | undefined>): Promise<R | undefined> {
  return new Promise((resolve, reject) => runChain(chain, invoke, (error, answer) => (error ? reject(error) : resolve(answer))))
}

/** The text a denial gave (`{ ok: false, reason }`), if any. */
export function denialReason(verdict: unknown): string | undefined {
  return typeof verdict === 'object' && verdict !== null && (verdict as { ok?: unknown }).ok === false ? (verdict as { reason?: string }).reason : undefined
}

/** Reads a verdict: undefined/true allow; false or a Denial deny (with its reason code, if any). */
export function denialOf(verdict: unknown, fallbackCode: number): number | undefined {
  if (verdict === false) return fallbackCode
  if (typeof verdict === 'object' && verdict !== null && (verdict as { ok?: unknown }).ok === false) {
    return (verdict as { reasonCode?: number }).reasonCode ?? fallbackCode
  }
  return undefined
}
