/**
 * "Did you mean": the closest known name for a mistyped config field, `--set` path or command.
 * Field paths come from the zod schema itself (the single source of truth), so a new field is suggested as
 * soon as it exists.
 */
import { distance } from 'fastest-levenshtein';
import type { z } from 'zod';

type Def = { type: string; shape?: Record<string, z.ZodType>; innerType?: z.ZodType; in?: z.ZodType };

/** Every field path of an object schema, sections included: "train", "train.lambda", "schedule.ns"… */
export function fieldPaths(schema: z.ZodType, prefix = ''): string[] {
  const def = (schema as unknown as { _zod: { def: Def } })._zod.def;
  switch (def.type) {
    case 'object':
      return Object.entries(def.shape ?? {}).flatMap(([key, child]) => {
        const path = prefix ? `${prefix}.${key}` : key;
        return [path, ...fieldPaths(child, path)];
      });
    case 'optional': case 'default': case 'prefault': case 'nullable': case 'readonly': case 'catch': case 'nonoptional':
      return def.innerType ? fieldPaths(def.innerType, prefix) : [];
    case 'pipe':
      return def.in ? fieldPaths(def.in, prefix) : [];
    default:
      return [];
  }
}

/**
 * Whether `typed` is close enough to `known` to be a typo of it: equal ignoring case, or within an edit
 * distance that grows with the length (1 for names up to 4 characters, 2 up to 8, then 3).
 */
export function isNear(typed: string, known: string): boolean {
  const a = typed.toLowerCase(), b = known.toLowerCase();
  if (a === b) return true;
  const limit = Math.min(3, Math.max(1, Math.ceil(Math.max(a.length, b.length) / 4)));
  return distance(a, b) <= limit;
}

/** The known name nearest to `typed` (ties: the first), when one is near enough. */
export function closestName(typed: string, known: readonly string[]): string | undefined {
  let best: string | undefined, bestD = Infinity;
  for (const k of known) {
    if (!isNear(typed, k)) continue;
    const d = distance(typed.toLowerCase(), k.toLowerCase());
    if (d < bestD) { best = k; bestD = d; }
  }
  return best;
}

const segments = (p: string) => p.split('.');
const endsWith = (path: string, tail: string) => path === tail || path.endsWith(`.${tail}`);

/**
 * The field meant by an unknown field path `unknown` (e.g. "train.lamda"), given every known path.
 * `intended`: the longer path the user wrote when the unknown field is a section of it (the `--set` path
 * "train.lambda" whose "train" is unknown in a search config), so the suggestion can be that whole path.
 *   1. a near sibling: train.lamda → train.lambda (and with the rest of `intended`: trian.lambda → train.lambda);
 *   2. the same path in another section: lambda → train.lambda; train.lambda in a search → base.train.lambda.
 */
export function suggestField(unknown: string, known: readonly string[], intended?: string): string | undefined {
  const knownSet = new Set(known);
  const parts = segments(unknown);
  const parent = parts.slice(0, -1).join('.');
  const rest = intended && intended.startsWith(`${unknown}.`) ? intended.slice(unknown.length) : '';
  const siblings = known.filter((k) => segments(k).length === parts.length && (parent === '' || k.startsWith(`${parent}.`)));
  const near = closestName(parts[parts.length - 1], siblings.map((s) => segments(s).pop()!));
  if (near !== undefined) {
    const sibling = parent ? `${parent}.${near}` : near;
    return rest && knownSet.has(`${sibling}${rest}`) ? `${sibling}${rest}` : sibling;
  }
  for (const tail of [...(rest ? [`${unknown}${rest}`] : []), unknown]) {
    const moved = known.filter((k) => k !== tail && endsWith(k, tail)).sort((a, b) => a.length - b.length);
    if (moved.length > 0) return moved[0];
  }
  return undefined;
}
