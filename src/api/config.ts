/** Loading and validating configs for library callers: from a YAML file or a plain object, with the CLI's checks. */
import { ConfigError, UsageError } from '../util/errors.js';
import { applySet, readYamlFile, validateConfig as validateRaw } from '../config/load.js';
import type { AnyConfig, ConfigKind, GradcheckConfig, SearchConfig, TrainConfig } from '../config/schema.js';
import { checkArgument, configSourceArgument, loadConfigOptionsArgument } from './arguments.js';

/** A config as a caller holds it: the path of a YAML file, or its fields as a plain object (defaults filled in). */
export type ConfigSource = string | Record<string, unknown>;

export interface LoadConfigOptions {
  /** Overrides as on the command line, e.g. ["train.lambda=0.001", "schedule.cycles=2"]; values are YAML. */
  set?: string[];
  /** The kind the caller expects; another kind is a UsageError. */
  kind?: ConfigKind;
  /** The name messages give a plain-object config (default "config"). */
  source?: string;
}

type ConfigOf<K extends ConfigKind> = K extends 'train' ? TrainConfig : K extends 'search' ? SearchConfig : GradcheckConfig;

/**
 * A validated config with every default filled in, from a YAML file or a plain object. Throws a ConfigError (one line
 * per problem in `problems`, naming the file or source, the field and the value; an unknown field gets a "did you
 * mean") or a UsageError (unreadable file, wrong kind).
 */
export function loadConfig<K extends ConfigKind>(source: ConfigSource, options: LoadConfigOptions & { kind: K }): ConfigOf<K>;
export function loadConfig(source: ConfigSource, options?: LoadConfigOptions): AnyConfig;
export function loadConfig(source: ConfigSource, options: LoadConfigOptions = {}): AnyConfig {
  checkArgument('loadConfig(): config', configSourceArgument, source);
  checkArgument('loadConfig(): options', loadConfigOptionsArgument, options);
  const sets = options.set ?? [];
  const name = typeof source === 'string' ? source : options.source ?? 'config';
  const raw = typeof source === 'string' ? readYamlFile(source) : plainCopy(source, name);
  for (const s of sets) applySet(raw, s);
  // The kind first: a search config given where a training config is expected is one problem, not one per field.
  const kind = raw.kind ?? 'train';
  if (options.kind && kind !== options.kind) throw new UsageError(`${name}: kind: expected a ${options.kind} config (got ${JSON.stringify(kind)})`);
  return validateRaw(raw, name, sets.map((s) => s.slice(0, Math.max(0, s.indexOf('='))).trim()));
}

/**
 * Validates a config held as a plain object (a parsed file, a config returned by `loadConfig`): the same as
 * `loadConfig(object)`.
 */
export function validateConfig<K extends ConfigKind>(config: unknown, options: Omit<LoadConfigOptions, 'set'> & { kind: K }): ConfigOf<K>;
export function validateConfig(config: unknown, options?: Omit<LoadConfigOptions, 'set'>): AnyConfig;
export function validateConfig(config: unknown, options: Omit<LoadConfigOptions, 'set'> = {}): AnyConfig {
  const source = options.source ?? 'config';
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new ConfigError([`${source}: expected a mapping of config fields at the top level`]);
  }
  return loadConfig(config as Record<string, unknown>, options);
}

/** A deep copy the overrides may change (the caller's object is left as it was). */
function plainCopy(source: Record<string, unknown>, name: string): Record<string, unknown> {
  try {
    return structuredClone(source);
  } catch (e) {
    throw new ConfigError([`${name}: not a plain object of config fields (${(e as Error).message.split('\n')[0]})`]);
  }
}

/** The config a run function takes: a validated one of `kind` (with `set` overrides), and the file it came from (for relative paths). */
export function configOfKind<K extends ConfigKind>(source: ConfigSource | ConfigOf<K>, kind: K, caller: string, set: string[] = []): { config: ConfigOf<K>; configPath?: string } {
  checkArgument(`${caller}(): config`, configSourceArgument, source);
  if (typeof source === 'string') return { config: loadConfig(source, { kind, set }), configPath: source };
  return { config: loadConfig(source as Record<string, unknown>, { kind, set }) };
}
