/** The backend a command runs on: selected, or a one-line UsageError naming it; and the start line's account of the choice. */
import { UsageError } from '../util/errors.js';
import { selectBackend, type BackendName, type Selection, type StepShape } from './select.js';

/** A kernel backend, or a one-line UsageError naming the backend when it does not load here. */
export async function selectBackendOrExplain(name: BackendName, threads: number, shape?: StepShape): Promise<Selection> {
  try {
    return await selectBackend(name, threads, shape ? { shape } : {});
  } catch (e) {
    throw new UsageError(`kernels.backend: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** What runs, on which device, and why each other backend was passed over. */
export function describeSelection(s: Selection): string {
  const { backend, device, skipped } = s;
  return `backend ${backend.name} (${backend.threads + 1} thread${backend.threads ? 's' : ''})` +
    (device ? ` on ${device.renderer}${device.software ? ` (software renderer ${device.software}: correct, not fast)` : ''}` : '') +
    (skipped.length ? `; passed over: ${groupByReason(skipped).map((g) => `${g.names.join(' and ')} (${g.reason})`).join(', ')}` : '');
}

function groupByReason(items: Selection['skipped']): { names: string[]; reason: string }[] {
  const groups: { names: string[]; reason: string }[] = [];
  for (const { name, reason } of items) {
    const last = groups[groups.length - 1];
    if (last?.reason === reason) last.names.push(name);
    else groups.push({ names: [name], reason });
  }
  return groups;
}
