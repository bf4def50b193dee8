/** Metrics sink: streams every evaluation point to metrics.csv with fast-csv, one row as it happens. */
import { createWriteStream, existsSync, statSync } from 'node:fs';
import { format, type CsvFormatterStream, type FormatterRow as Row } from 'fast-csv';
import { concatMap, type OperatorFunction } from 'rxjs';
import type { EvaluatedStep, MetricsRow } from './types.js';

export const METRICS_COLUMNS = ['step', 'epoch', 'eta', 'train_loss', 'train_cost', 'train_acc', 'val_loss', 'val_cost', 'val_acc', 'elapsed_s'] as const;

const num = (v: number) => (Number.isFinite(v) ? v : 'NA');

export function metricsRecord(m: MetricsRow): Record<(typeof METRICS_COLUMNS)[number], number | string> {
  return {
    step: m.step, epoch: num(Number(m.epoch.toFixed(6))), eta: num(m.eta),
    train_loss: num(m.train.loss), train_cost: num(m.train.cost), train_acc: num(m.train.accuracy),
    val_loss: num(m.val.loss), val_cost: num(m.val.cost), val_acc: num(m.val.accuracy),
    elapsed_s: Number(m.elapsed_s.toFixed(3)),
  };
}

/** A CSV file written row by row; appends (header kept) when `append` and the file has content. */
export class CsvLog {
  private readonly csv: CsvFormatterStream<Row, Row>;
  private readonly done: Promise<void>;

  constructor(path: string, columns: readonly string[], append = false) {
    const hasContent = append && existsSync(path) && statSync(path).size > 0;
    const file = createWriteStream(path, { flags: hasContent ? 'a' : 'w' });
    this.csv = format({ headers: [...columns], writeHeaders: !hasContent, includeEndRowDelimiter: true });
    this.done = new Promise((resolve, reject) => {
      file.on('finish', resolve);
      file.on('error', reject);
      this.csv.on('error', reject);
    });
    this.csv.pipe(file);
  }

  /** Resolves once the row has been handed to the file. */
  write(row: Row): Promise<void> {
    return new Promise((resolve, reject) => this.csv.write(row, (e) => (e ? reject(e) : resolve())));
  }

  close(): Promise<void> {
    this.csv.end();
    return this.done;
  }
}

export function metricsSink(log: CsvLog): OperatorFunction<EvaluatedStep, EvaluatedStep> {
  return concatMap(async (s) => {
    if (s.metrics) await log.write(metricsRecord(s.metrics));
    return s;
  });
}
