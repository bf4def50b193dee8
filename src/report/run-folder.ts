/**
 * What a report needs of a run's folder, read through the format modules: metrics.csv (a partial last line is not a
 * row), summary.json (absent when the run was killed early, or unusable) and config.yaml.
 */
import { join } from 'node:path';
import { METRICS_FILE, readMetricsCsv, type ParsedMetrics } from '../formats/metrics-csv.js';
import { readRunSummary, type StoredRunSummary } from '../formats/run-summary.js';
import { parseCoreYaml } from '../util/core-yaml.js';
import { FileReadError, readRegularText } from '../util/read-file.js';

/** Largest config.yaml read. */
const MAX_CONFIG_BYTES = 16 * 2 ** 20;

/** What a run directory holds, as far as it could be read. */
export interface RunArtifacts {
  outDir: string;
  /** null when metrics.csv does not exist. */
  metrics: ParsedMetrics | null;
  /** Parsed summary.json; null when absent or unreadable (e.g. the run was interrupted). */
  summary: StoredRunSummary | null;
  /** Text of config.yaml; null when absent. */
  configYaml: string | null;
  /** The resolved config: summary.config, else config.yaml parsed; null when neither is readable. */
  config: Record<string, unknown> | null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function readOptional<T>(read: () => T): T | null {
  try {
    return read();
  } catch (err) {
    if (err instanceof FileReadError && err.code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Reads metrics.csv, summary.json and config.yaml from a run directory; never throws on missing or damaged contents
 * (a summary cut short, nested too deep or a config.yaml with tags reads as absent). Throws a FileReadError when one
 * of them is not a regular file, too large or unreadable.
 */
export async function readRunArtifacts(outDir: string): Promise<RunArtifacts> {
  const metricsPath = join(outDir, METRICS_FILE);
  const metrics = await readOptionalAsync(() => readMetricsCsv(metricsPath));
  const summary = readRunSummary(outDir);
  const configYaml = readOptional(() => readRegularText(join(outDir, 'config.yaml'), { maxBytes: MAX_CONFIG_BYTES, expected: 'a file of a run folder' }));
  let config: Record<string, unknown> | null = isObject(summary?.config) ? summary.config : null;
  if (config === null && configYaml !== null) {
    try {
      const parsed: unknown = parseCoreYaml(configYaml, 50);
      if (isObject(parsed)) config = parsed;
    } catch {
      config = null;
    }
  }
  return { outDir, metrics, summary, configYaml, config };
}

async function readOptionalAsync<T>(read: () => Promise<T>): Promise<T | null> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof FileReadError && err.code === 'ENOENT') return null;
    throw err;
  }
}
