/**
 * Loading a config: YAML file → `--set key.path=value` overrides → validation against the schema of
 * its `kind`. Every problem becomes one line naming the file, the field path and the bad value.
 */
import { stringify } from 'yaml';
import type { z } from 'zod';
import { parseCoreYaml } from '../util/core-yaml.js';
import { FileReadError, readRegularText } from '../util/read-file.js';
import { ConfigError } from '../util/errors.js';
import { configSchemas, type AnyConfig, type ConfigKind } from './schema.js';
import { fieldPaths, suggestField } from './suggest.js';

const MAX_CONFIG_BYTES = 1 << 20;

/** A short, one-line rendering of a bad value (never throws: circular YAML, BigInt, Map… included). */
export function show(value: unknown): string {
  if (value === undefined) return 'missing';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (typeof value === 'bigint') return `${value}`;
  let s: string | undefined;
  try {
    s = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}` : typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
  } catch {
    s = undefined;
  }
  if (s === undefined) {
    if (value instanceof Map) s = 'a map';
    else if (value instanceof Set) s = 'a set';
    else if (ArrayBuffer.isView(value)) s = 'binary data';
    else if (Array.isArray(value)) s = `a list of ${value.length}`;
    else if (typeof value === 'object' && value !== null) s = 'an object';
    else s = String(value);
  }
  s = s.replace(/[\r\n]+/g, ' ');
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** The value at the last key of an issue's path, when its input is the enclosing object (refinements). */
function offendingValue(i: z.core.$ZodIssue): unknown {
  const last = i.path[i.path.length - 1];
  const input = (i as { input?: unknown }).input;
  if (i.code === 'custom' && input !== null && typeof input === 'object' && !Array.isArray(input) && typeof last === 'string' && Object.hasOwn(input, last)) {
    return (input as Record<string, unknown>)[last];
  }
  return input;
}

const pathText = (path: PropertyKey[]) => (path.length ? path.map((p) => String(p)).join('.') : '(top level)');

/**
 * One line per problem: `<source>: <field path>: <message> (got <value>)`. An unknown key gets a line of its
 * own naming its full path, and the field it probably means when `fields` (every known field path) has a near
 * one. `setPaths`: field paths given with --set, marked as such.
 */
export function formatIssues(source: string, issues: z.core.$ZodIssue[], setPaths: string[] = [], fields: readonly string[] = []): string[] {
  const fromSet = (path: string) => (setPaths.some((p) => path === p || path.startsWith(`${p}.`) || p.startsWith(`${path}.`)) ? ' [from --set]' : '');
  const didYouMean = (path: string) => {
    const intended = setPaths.find((p) => p.startsWith(`${path}.`));
    const field = fields.length ? suggestField(path, fields, intended) : undefined;
    return field ? `; did you mean ${field}?` : '';
  };
  return issues.flatMap((i) => {
    if (i.code === 'unrecognized_keys') {
      const input = (i as { input?: unknown }).input;
      return i.keys.map((k) => {
        const path = pathText([...i.path, k]);
        const value = input !== null && typeof input === 'object' && Object.hasOwn(input, k) ? ` (got ${show((input as Record<string, unknown>)[k])})` : '';
        return `${source}: ${path}: unknown field${value}${fromSet(path)}${didYouMean(path)}`;
      });
    }
    const path = pathText(i.path);
    const message = i.message.replace(/[\r\n]+/g, ' ');
    return [`${source}: ${path}: ${message} (got ${show(offendingValue(i))})${fromSet(path)}`];
  });
}

/**
 * Applies `a.b.c=value` (value parsed as YAML: numbers, booleans, lists) to a plain object; `a.b.c=null` unsets the
 * field (an optional one is then absent, one with a default takes its default).
 */
export function applySet(raw: Record<string, unknown>, assignment: string, source = '--set'): void {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new ConfigError([`${source} ${JSON.stringify(assignment)}: expected key.path=value`]);
  const path = assignment.slice(0, eq).trim().split('.');
  if (path.some((p) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(p)) || path.some((p) => p === '__proto__' || p === 'constructor' || p === 'prototype')) {
    throw new ConfigError([`${source} ${JSON.stringify(assignment)}: bad key path ${JSON.stringify(path.join('.'))}`]);
  }
  let value: unknown;
  try {
    value = parseCoreYaml(assignment.slice(eq + 1), 0);
  } catch (e) {
    const why = (e as Error).message.split('\n')[0];
    throw new ConfigError([`${source} ${JSON.stringify(assignment)}: ${why.startsWith('invalid YAML: ') ? `value is not valid YAML (${why.slice(14)})` : `value: ${why}`}`]);
  }
  let node: Record<string, unknown> = raw;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === undefined || next === null) node[key] = {};
    else if (typeof next !== 'object' || Array.isArray(next)) {
      throw new ConfigError([`${source} ${JSON.stringify(assignment)}: ${key} is not a section`]);
    }
    node = node[key] as Record<string, unknown>;
  }
  const key = path[path.length - 1];
  if (value === null) delete node[key];
  else node[key] = value;
}

/**
 * A YAML config file as a plain object: a regular file of at most MAX_CONFIG_BYTES (a device, named pipe, socket or
 * folder is refused without blocking), core-schema YAML only. Every problem is a one-line ConfigError naming the file.
 */
export function readYamlFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readRegularText(path, { maxBytes: MAX_CONFIG_BYTES, expected: 'a YAML config file' });
  } catch (e) {
    if (!(e instanceof FileReadError)) throw e;
    throw new ConfigError([e.code === 'ENOTREG' || e.code === 'EFBIG' ? e.message : `${path}: cannot read config file (${e.code ?? e.reason})`]);
  }
  let raw: unknown;
  try {
    raw = parseCoreYaml(text, 50);
  } catch (e) {
    throw new ConfigError([`${path}: ${(e as Error).message}`]);
  }
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError([`${path}: expected a mapping of config fields at the top level`]);
  return raw as Record<string, unknown>;
}

/** Validates a raw object against the schema of its kind. */
export function validateConfig(raw: Record<string, unknown>, source: string, setPaths: string[] = []): AnyConfig {
  const kind = (raw.kind ?? 'train') as ConfigKind;
  const schema = typeof kind === 'string' && Object.hasOwn(configSchemas, kind) ? configSchemas[kind] : undefined;
  if (!schema) {
    throw new ConfigError([`${source}: kind: must be one of ${Object.keys(configSchemas).join(', ')} (got ${show(raw.kind)})`]);
  }
  const result = schema.safeParse(raw, { reportInput: true });
  if (!result.success) throw new ConfigError(formatIssues(source, result.error.issues, setPaths, fieldPaths(schema)));
  return result.data as AnyConfig;
}

export function loadConfig(path: string, sets: string[] = []): AnyConfig {
  const raw = readYamlFile(path);
  for (const s of sets) applySet(raw, s);
  const setPaths = sets.map((s) => s.slice(0, Math.max(0, s.indexOf('='))).trim());
  return validateConfig(raw, path, setPaths);
}

export function toYaml(config: unknown): string {
  return stringify(config, { lineWidth: 0 });
}
