/**
 * Metrics sink: streams every evaluation point to metrics.csv (a CsvLog), one row as it happens. A row that cannot
 * be written errors the stream at once (the CsvLog's FileWriteError names the file and the errno).
 */
import { concatMap, type OperatorFunction } from 'rxjs';
import type { CsvLog } from '../util/csv-log.js';
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

export function metricsSink(log: CsvLog): OperatorFunction<EvaluatedStep, EvaluatedStep> {
  return concatMap(async (s) => {
    if (s.metrics) await log.write(metricsRecord(s.metrics));
    return s;
  });
}
