/**
 * The library's arguments, checked with zod before anything is read or written: a wrong one is the CLI's one-line
 * UsageError (exit code 2) naming the function and the argument, e.g. "train(): options.out: expected a string (got
 * 42)", never a TypeError from deep inside. Options the schemas do not name pass through (they are the caller's).
 */
import { z } from 'zod';
import { BACKEND_NAMES } from '../kernels/names.js';
import { UsageError } from '../util/errors.js';

const fn = <T extends (...a: never[]) => unknown>() => z.custom<T>((v) => typeof v === 'function', 'expected a function');
const signal = z.custom<AbortSignal>((v) => v instanceof AbortSignal, 'expected an AbortSignal');
const path = z.string().min(1, 'expected a non-empty path');
const isPlainObject = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);

export const configSourceArgument = z.union([path, z.custom<Record<string, unknown>>(isPlainObject)], {
  error: 'expected the path of a config file or a plain object of config fields',
});

const folderOptions = z.looseObject({
  out: path,
  data: path.optional(),
  force: z.boolean().optional(),
  resume: z.boolean().optional(),
  signal: signal.optional(),
  log: fn().optional(),
  onProgress: fn().optional(),
}, { error: 'expected an object of options, with at least `out` (the output folder)' });

export const trainOptionsArgument = folderOptions.extend({ switchBackend: z.boolean().optional() });
export const searchOptionsArgument = folderOptions;

export const loadConfigOptionsArgument = z.looseObject({
  set: z.array(z.string()).optional(),
  kind: z.enum(['train', 'search', 'gradcheck']).optional(),
  source: z.string().optional(),
}).optional();

const backend = z.enum(BACKEND_NAMES).optional();
export const evaluateOptionsArgument = z.looseObject({ data: path.optional(), backend, signal: signal.optional(), log: fn().optional() }).optional();
export const loadModelOptionsArgument = z.looseObject({ backend }).optional();

const image = z.union([path, z.instanceof(Uint8Array)], { error: 'expected a file path, the bytes of an image file or a Uint8Array of pixels' });
export const imagesArgument = z.union([image, z.array(image).min(1, 'expected at least one image')], {
  error: 'expected a file path, image bytes or pixels, or a non-empty array of them',
});
export const modelArgument = z.union([path, z.looseObject({ predict: fn(), dispose: fn() })], {
  error: 'expected the path of a model file or run folder, or a Model from loadModel()',
});
export const modelPathArgument = path;

function shown(v: unknown): string {
  if (typeof v === 'function') return 'a function';
  try {
    const text = JSON.stringify(v);
    if (text !== undefined) return text.length > 60 ? `${text.slice(0, 57)}...` : text;
  } catch {
    // a cycle
  }
  return String(v);
}

/** `value` as the schema takes it; a UsageError naming `what` (e.g. "train(): options") and the first problem otherwise. */
export function checkArgument<T extends z.ZodType>(what: string, schema: T, value: unknown): z.infer<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  let at: unknown = value;
  for (const k of issue.path) at = (at as Record<PropertyKey, unknown> | undefined)?.[k as PropertyKey];
  const where = [what, ...issue.path.map(String)].join('.');
  throw new UsageError(`${where}: ${issue.message.replace(/^Invalid input: /, '')} (got ${shown(at)})`);
}
