type Callable<K extends PropertyKey> = { [P in K]: () => void }

function callMethod<K extends PropertyKey>(target: Callable<K>, method: K): void {
  target[method]()
}

// Timers and ticks get the target and the method's name as arguments: no closure per timer, which an idle
// client would otherwise carry for each one armed.

/** Calls `target[method]()` after `ms` milliseconds. */
export function callLater<K extends PropertyKey>(ms: number, target: Callable<K>, method: K): NodeJS.Timeout {
  return setTimeout(callMethod<K>, ms, target, method)
}

/** Calls `target[method]()` on the next tick. */
export function callNextTick<K extends PropertyKey>(target: Callable<K>, method: K): void {
  process.nextTick(callMethod<K>, target, method)
}
