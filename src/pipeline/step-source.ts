/**
 * The head of the training stream: update-step indices, produced lazily. Step i + 1 is emitted only when the
 * consumer asks for it (`next()`, called by the last stage once step i is done), so nothing is buffered for
 * the steps still to come: memory does not depend on the run's length, and a stop takes effect between two
 * steps. Before emitting, the source lets the event loop turn whenever `yieldMs` have passed since it last did:
 * synchronous backends would otherwise run a whole run in microtasks, and a SIGINT/SIGTERM handler (the abort
 * signal) would not run until the end.
 */
import { Observable } from 'rxjs';

export interface StepSource {
  /** Step indices first, first + 1, … (0-based update numbers), completing at `total` or once stopped. */
  readonly steps$: Observable<number>;
  /** Asks for the step after the last one emitted. */
  next(): void;
}

export function stepSource(first: number, total: number, signal?: AbortSignal, yieldMs = 1): StepSource {
  let subscriber: { next(step: number): void; complete(): void } | null = null;
  let step = first;
  let lastYield = performance.now();
  const emit = () => {
    if (!subscriber) return;
    if (step >= total || signal?.aborted) {
      subscriber.complete();
      return;
    }
    subscriber.next(step++);
  };
  const next = () => {
    if (performance.now() - lastYield < yieldMs) return emit();
    setImmediate(() => {
      lastYield = performance.now();
      emit();
    });
  };
  const steps$ = new Observable<number>((s) => {
    if (subscriber) throw new Error('stepSource: one subscriber at a time');
    subscriber = s;
    next();
    return () => { subscriber = null; };
  });
  return { steps$, next };
}
