/**
 * Metrics sink: streams every evaluation point to metrics.csv, one row as it happens. A row that cannot be written
 * errors the stream at once (the FileWriteError names the file and the errno).
 */
import { concatMap, type OperatorFunction } from 'rxjs';
import type { MetricsLog } from '../formats/metrics-csv.js';
import type { EvaluatedStep } from './types.js';

export function metricsSink(log: MetricsLog): OperatorFunction<EvaluatedStep, EvaluatedStep> {
  return concatMap(async (s) => {
    if (s.metrics) await log.write(s.metrics);
    return s;
  });
}
