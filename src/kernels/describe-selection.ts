/** The start line's account of a backend choice: what runs, on which device, why the others were passed over. */
import type { Selection } from './select.js';

/** What runs, on which device, and why each other backend was passed over. */
export function describeSelection(s: Selection): string {
  const { backend, device, skipped } = s;
  return `backend ${backend.name} (${backend.threads} thread${backend.threads > 1 ? 's' : ''})` +
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
