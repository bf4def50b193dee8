/**
 * Tolerant reading of a run's output directory: `metrics.csv` (streamed during training, so it may
 * end with a partial line), `summary.json` (absent when the run was interrupted) and `config.yaml`.
 */
import { join } from 'node:path';
import { parseJsonBounded } from '../util/bounded-json.js';
import { parseCoreYaml } from '../util/core-yaml.js';
import { FileReadError, readRegularText } from '../util/read-file.js';

import { METRICS_COLUMNS } from '../stages/metrics-sink.js';

export { METRICS_COLUMNS };

export type MetricsColumn = (typeof METRICS_COLUMNS)[number];

/** One evaluation point. `step` is always a number; any other value may be missing (`NA`) → null. */
export type MetricsRow = { step: number } & Record<Exclude<MetricsColumn, 'step'>, number | null>;

export interface ParsedMetrics {
  rows: MetricsRow[];
  /** Header cells as found in the file. */
  header: string[];
  /** Lines that could not be used (partial last line, malformed rows, rows without a step). */
  skipped: number;
}

const MISSING = new Set(['', 'NA', 'NaN', 'nan', 'null', 'undefined']);

/** A cell → number, null when missing, undefined when it is not a number at all (malformed). */
function parseCell(raw: string): number | null | undefined {
  const s = raw.trim().replace(/^"(.*)"$/, '$1');
  if (MISSING.has(s)) return null;
  // Number('') and Number(' ') are 0, and Number('0x10') is 16: require a decimal literal.
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s) && s !== 'Infinity' && s !== '-Infinity') {
    return undefined;
  }
  const v = Number(s);
  return Number.isNaN(v) ? undefined : v;
}

/**
 * Parses the text of a metrics.csv. Unknown columns are ignored, absent ones read as null.
 * A line with the wrong number of cells or a non-numeric cell (typically the partial last line of a
 * run that was killed mid-write) is skipped and counted, wherever it is; so is a row without a step.
 */
export function parseMetricsCsv(text: string): ParsedMetrics {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let i = 0;
  while (i < lines.length && lines[i].trim() === '') i++;
  if (i >= lines.length) return { rows: [], header: [], skipped: 0 };
  const header = lines[i].split(',').map((h) => h.trim().replace(/^"(.*)"$/, '$1'));
  const index = new Map(header.map((h, j) => [h, j] as const));
  const rows: MetricsRow[] = [];
  let skipped = 0;
  for (const line of lines.slice(i + 1)) {
    if (line.trim() === '') continue;
    const cells = line.split(',');
    if (cells.length !== header.length) {
      skipped++;
      continue;
    }
    const values = cells.map(parseCell);
    if (values.some((v) => v === undefined)) {
      skipped++;
      continue;
    }
    const row = {} as Record<MetricsColumn, number | null>;
    for (const col of METRICS_COLUMNS) {
      const j = index.get(col);
      row[col] = j === undefined ? null : (values[j] as number | null);
    }
    if (row.step === null || !Number.isFinite(row.step)) {
      skipped++;
      continue;
    }
    rows.push(row as MetricsRow);
  }
  return { rows, header, skipped };
}

/** Largest metrics.csv read (a run of a million evaluation points is about 100 MB). */
const MAX_METRICS_BYTES = 512 * 2 ** 20;
/** Largest summary.json or config.yaml read. */
const MAX_SIDE_FILE_BYTES = 16 * 2 ** 20;

/** Reads and parses `path` (a metrics.csv). Throws a FileReadError when it is missing, not a regular file or too large. */
export async function readMetricsCsv(path: string): Promise<ParsedMetrics> {
  return parseMetricsCsv(readRegularText(path, { maxBytes: MAX_METRICS_BYTES, expected: 'a metrics.csv file' }));
}

/** What a run directory holds, as far as it could be read. */
export interface RunArtifacts {
  outDir: string;
  /** null when metrics.csv does not exist. */
  metrics: ParsedMetrics | null;
  /** Parsed summary.json; null when absent or unreadable (e.g. the run was interrupted). */
  summary: RunSummary | null;
  /** Text of config.yaml; null when absent. */
  configYaml: string | null;
  /** The resolved config: summary.config, else config.yaml parsed; null when neither is readable. */
  config: Record<string, unknown> | null;
}

/** The parts of summary.json the report uses; everything is optional so partial files still work. */
export interface RunSummary {
  status?: string;
  backend?: string;
  seed?: number;
  steps?: number;
  epochs?: number;
  seconds?: number;
  samplesPerSecond?: number;
  config?: Record<string, unknown>;
  final?: Partial<Record<'train' | 'val' | 'test', { loss?: number | null; cost?: number | null; accuracy?: number | null }>>;
  [key: string]: unknown;
}

/** A file's text; null when it does not exist. Throws a FileReadError when it is not a regular file, too large or unreadable. */
function readOptional(path: string, maxBytes: number): string | null {
  try {
    return readRegularText(path, { maxBytes, expected: 'a file of a run folder' });
  } catch (err) {
    if (err instanceof FileReadError && err.code === 'ENOENT') return null;
    throw err;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads metrics.csv, summary.json and config.yaml from a run directory; never throws on missing or damaged contents
 * (a summary cut short, nested too deep or a config.yaml with tags reads as absent). Throws a FileReadError when one
 * of them is not a regular file, too large or unreadable.
 */
export async function readRunArtifacts(outDir: string): Promise<RunArtifacts> {
  const csv = readOptional(join(outDir, 'metrics.csv'), MAX_METRICS_BYTES);
  const summaryText = readOptional(join(outDir, 'summary.json'), MAX_SIDE_FILE_BYTES);
  const configYaml = readOptional(join(outDir, 'config.yaml'), MAX_SIDE_FILE_BYTES);
  let summary: RunSummary | null = null;
  if (summaryText !== null) {
    try {
      const parsed: unknown = parseJsonBounded(summaryText);
      if (isObject(parsed)) summary = parsed as RunSummary;
    } catch {
      summary = null; // a summary cut short while being written: treat as absent
    }
  }
  let config: Record<string, unknown> | null = isObject(summary?.config) ? summary.config : null;
  if (config === null && configYaml !== null) {
    try {
      const parsed: unknown = parseCoreYaml(configYaml, 50);
      if (isObject(parsed)) config = parsed;
    } catch {
      config = null;
    }
  }
  return { outDir, metrics: csv === null ? null : parseMetricsCsv(csv), summary, configYaml, config };
}
