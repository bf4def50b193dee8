/**
 * Loading a config: YAML file → `--set key.path=value` overrides → validation against the schema of
 * its `kind`. Every problem becomes one line naming the file, the field path and the bad value.
 */
import { readFileSync, statSync } from 'node:fs';
import { parse as parseYaml, stringify } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from './errors.js';
import { configSchemas, type AnyConfig, type ConfigKind } from './schema.js';

const MAX_CONFIG_BYTES = 1 << 20;

function show(value: unknown): string {
  if (value === undefined) return 'missing';
  const s = JSON.stringify(value);
  return s === undefined ? String(value) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

export function formatIssues(source: string, issues: z.core.$ZodIssue[]): string[] {
  return issues.map((i) => {
    const path = i.path.length ? i.path.join('.') : '(top level)';
    const keys = i.code === 'unrecognized_keys' ? ` ${i.keys.map((k) => JSON.stringify(k)).join(', ')}` : '';
    const got = i.code === 'unrecognized_keys' ? '' : ` (got ${show(i.input)})`;
    return `${source}: ${path}: ${i.message}${keys}${got}`;
  });
}

/** Applies `a.b.c=value` (value parsed as YAML: numbers, booleans, lists) to a plain object. */
export function applySet(raw: Record<string, unknown>, assignment: string, source = '--set'): void {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new ConfigError([`${source} ${JSON.stringify(assignment)}: expected key.path=value`]);
  const path = assignment.slice(0, eq).trim().split('.');
  if (path.some((p) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(p)) || path.some((p) => p === '__proto__' || p === 'constructor' || p === 'prototype')) {
    throw new ConfigError([`${source} ${JSON.stringify(assignment)}: bad key path ${JSON.stringify(path.join('.'))}`]);
  }
  let value: unknown;
  try {
    value = parseYaml(assignment.slice(eq + 1), { maxAliasCount: 0 });
  } catch (e) {
    throw new ConfigError([`${source} ${JSON.stringify(assignment)}: value is not valid YAML (${(e as Error).message.split('\n')[0]})`]);
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
  node[path[path.length - 1]] = value;
}

export function readYamlFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new ConfigError([`${path}: is a directory, expected a YAML config file`]);
    if (st.size > MAX_CONFIG_BYTES) throw new ConfigError([`${path}: ${st.size} bytes is too large for a config file`]);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError([`${path}: cannot read config file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 50, prettyErrors: true });
  } catch (e) {
    throw new ConfigError([`${path}: invalid YAML: ${(e as Error).message.split('\n')[0]}`]);
  }
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError([`${path}: expected a mapping of config fields at the top level`]);
  return raw as Record<string, unknown>;
}

/** Validates a raw object against the schema of its kind. */
export function validateConfig(raw: Record<string, unknown>, source: string): AnyConfig {
  const kind = (raw.kind ?? 'train') as ConfigKind;
  const schema = configSchemas[kind];
  if (!schema) {
    throw new ConfigError([`${source}: kind: must be one of ${Object.keys(configSchemas).join(', ')} (got ${show(raw.kind)})`]);
  }
  const result = schema.safeParse(raw, { reportInput: true });
  if (!result.success) throw new ConfigError(formatIssues(source, result.error.issues));
  return result.data as AnyConfig;
}

export function loadConfig(path: string, sets: string[] = []): AnyConfig {
  const raw = readYamlFile(path);
  for (const s of sets) applySet(raw, s);
  return validateConfig(raw, path);
}

export function toYaml(config: unknown): string {
  return stringify(config, { lineWidth: 0 });
}
