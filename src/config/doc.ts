/** The config reference, rendered from the schemas (their descriptions, types, bounds and defaults). */
import { z } from 'zod';
import { writeFileAtomic } from '../util/atomic.js';
import { FileReadError, readRegularText } from '../util/read-file.js';
import { UsageError } from '../util/errors.js';
import { configSchemas, type ConfigKind } from './schema.js';

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  anyOf?: JsonSchema[];
}

function typeOf(s: JsonSchema): string {
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((e) => JSON.stringify(e)).join(' \\| ');
  if (s.anyOf) return s.anyOf.map(typeOf).join(' \\| ');
  let t = Array.isArray(s.type) ? s.type.join(' \\| ') : (s.type ?? 'any');
  if (t === 'array' && s.items) t = `${typeOf(s.items)}[]`;
  const bounds: string[] = [];
  if (s.exclusiveMinimum !== undefined) bounds.push(`> ${s.exclusiveMinimum}`);
  if (s.minimum !== undefined) bounds.push(`≥ ${s.minimum}`);
  if (s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER) bounds.push(`≤ ${s.maximum}`);
  return bounds.length ? `${t} (${bounds.join(', ')})` : t;
}

function rows(s: JsonSchema, prefix: string, out: string[]): void {
  for (const [key, child] of Object.entries(s.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (child.type === 'object' && child.properties) {
      rows(child, path, out);
      continue;
    }
    const def = child.default === undefined ? '' : `\`${JSON.stringify(child.default)}\``;
    out.push(`| \`${path}\` | ${typeOf(child)} | ${def} | ${(child.description ?? '').replace(/\|/g, '\\|')} |`);
  }
}

export function configReference(kinds: ConfigKind[] = Object.keys(configSchemas) as ConfigKind[]): string {
  return kinds
    .map((kind) => {
      const json = z.toJSONSchema(configSchemas[kind], { io: 'input', unrepresentable: 'any' }) as JsonSchema;
      const out = [`### kind: ${kind}`, '', '| field | type | default | description |', '|---|---|---|---|'];
      rows(json, '', out);
      return out.join('\n');
    })
    .join('\n\n');
}

export const REFERENCE_START = '<!-- config-reference:start -->';
export const REFERENCE_END = '<!-- config-reference:end -->';

/** Rewrites the part of a markdown file between the reference markers. */
export function replaceReferenceSection(path: string): void {
  let text: string;
  try {
    text = readRegularText(path, { maxBytes: 16 * 2 ** 20, expected: 'a markdown file' });
  } catch (e) {
    if (e instanceof FileReadError) throw new UsageError(`--write ${e.message}`);
    throw e;
  }
  const a = text.indexOf(REFERENCE_START), b = text.indexOf(REFERENCE_END);
  if (a < 0 || b < a) throw new UsageError(`${path}: no ${REFERENCE_START} … ${REFERENCE_END} markers`);
  writeFileAtomic(path, `${text.slice(0, a + REFERENCE_START.length)}\n\n${configReference()}\n\n${text.slice(b)}`);
}
