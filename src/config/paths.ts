/**
 * Config fields by path ("model.hidden", "schedule.etaMax"), looked up in a zod object schema: what a search
 * may vary, and what kind of value the field takes. The schema stays the single source of truth: nothing here
 * lists fields.
 */
import type { z } from 'zod';

/** What a leaf field holds, as far as a search space cares. */
export type FieldKind = 'int' | 'number' | 'other';

type Def = { type: string; innerType?: z.ZodType; in?: z.ZodType; shape?: Record<string, z.ZodType>; format?: string };
const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;

const WRAPPERS = new Set(['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch', 'nonoptional']);

/** The schema under defaults, optionals and pipes (refinements keep the inner schema's type). */
function unwrap(s: z.ZodType): z.ZodType {
  let cur = s;
  for (let i = 0; i < 20; i++) {
    const d = defOf(cur);
    if (WRAPPERS.has(d.type) && d.innerType) cur = d.innerType;
    else if (d.type === 'pipe' && d.in) cur = d.in;
    else break;
  }
  return cur;
}

export type FieldLookup =
  | { ok: true; kind: FieldKind }
  | { ok: false; reason: string };

/**
 * The leaf field at `path` (dot-separated keys) of an object schema, or why there is none: an unknown key (with the
 * keys that exist there), or a section where a field was expected.
 */
export function lookupField(schema: z.ZodType, path: string, prefix = ''): FieldLookup {
  const keys = path.split('.');
  let cur = unwrap(schema);
  let at = prefix;
  for (const key of keys) {
    const d = defOf(cur);
    if (d.type !== 'object' || !d.shape) return { ok: false, reason: `${at || '(top level)'} is a field, not a section` };
    if (!Object.hasOwn(d.shape, key)) {
      return { ok: false, reason: `not a field of the training config (${at || 'the top level'} has ${Object.keys(d.shape).join(', ')})` };
    }
    cur = unwrap(d.shape[key]);
    at = at ? `${at}.${key}` : key;
  }
  const d = defOf(cur);
  if (d.type === 'object') return { ok: false, reason: `${at} is a section, not a field (it has ${Object.keys(d.shape ?? {}).join(', ')})` };
  if (d.type === 'number') return { ok: true, kind: d.format === 'safeint' || d.format === 'int32' ? 'int' : 'number' };
  return { ok: true, kind: 'other' };
}

/** A deep copy of `obj` with the value at `path` replaced (sections are copied, never shared with `obj`). */
export function withField<T>(obj: T, path: string, value: unknown): T {
  const keys = path.split('.');
  const root = structuredClone(obj) as Record<string, unknown>;
  let node = root;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    node[key] = next !== null && typeof next === 'object' && !Array.isArray(next) ? next : {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]] = value;
  return root as T;
}

/** The value at `path` of a plain object (undefined when absent). */
export function fieldValue(obj: unknown, path: string): unknown {
  let node: unknown = obj;
  for (const key of path.split('.')) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}
