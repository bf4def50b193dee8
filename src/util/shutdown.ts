/**
 * What must still happen when the process is told to quit at once (a second SIGINT/SIGTERM): synchronous hooks
 * (write an interrupted summary, release a lock) run by the signal handler just before process.exit.
 */
const hooks = new Set<() => void>();

/** Registers a hook; returns the function that removes it. */
export function onForcedExit(hook: () => void): () => void {
  hooks.add(hook);
  return () => { hooks.delete(hook); };
}

/** Runs every hook once (the last registered first); a failing hook does not stop the others. */
export function runForcedExitHooks(): void {
  for (const hook of [...hooks].reverse()) {
    hooks.delete(hook);
    try {
      hook();
    } catch {
      /* quitting anyway */
    }
  }
}
