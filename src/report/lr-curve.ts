/**
 * The learning rate a run used at every update step, from its schedule (not from the evaluation points, which
 * may miss the peaks): the cyclical schedule is piecewise linear, so its vertices (every ns steps) and the run's
 * last step describe it exactly, however long the run.
 */
import { cyclicalEta, type CyclicalSchedule } from '../model/schedule.js';
import type { RunArtifacts } from './run-folder.js';

export interface EtaPoint {
  step: number;
  eta: number;
}

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const obj = (v: unknown) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** The schedule of a resolved config (its `schedule` section), or null when a field is missing or invalid. */
export function scheduleOf(config: Record<string, unknown> | null | undefined): CyclicalSchedule | null {
  const s = obj(obj(config).schedule);
  const etaMin = num(s.etaMin), etaMax = num(s.etaMax), ns = num(s.ns);
  if (etaMin === undefined || etaMax === undefined || ns === undefined || !(ns >= 1) || !Number.isInteger(ns)) return null;
  return { etaMin, etaMax, ns };
}

/** The learning rate at every step 0..lastStep as the vertices of its piecewise-linear curve. */
export function scheduleVertices(schedule: CyclicalSchedule, lastStep: number): EtaPoint[] {
  const last = Math.max(0, Math.floor(lastStep));
  const points: EtaPoint[] = [];
  for (let step = 0; step < last; step += schedule.ns) points.push({ step, eta: cyclicalEta(schedule, step) });
  points.push({ step: last, eta: cyclicalEta(schedule, last) });
  return points;
}

/**
 * The steps a run did: summary.json's `steps`, else (a run killed before writing it) the last evaluation point's
 * step; null when neither is known.
 */
export function lastStepOf(run: Pick<RunArtifacts, 'summary' | 'metrics'>): number | null {
  const fromSummary = num(run.summary?.steps);
  if (fromSummary !== undefined) return fromSummary;
  const rows = run.metrics?.rows ?? [];
  return rows.length ? Math.max(...rows.map((r) => r.step)) : null;
}

/** The run's learning-rate curve from its schedule, or null when its config or length is not known. */
export function learningRateCurve(run: Pick<RunArtifacts, 'summary' | 'metrics' | 'config'>): EtaPoint[] | null {
  const schedule = scheduleOf(run.config);
  const last = lastStepOf(run);
  return schedule && last !== null ? scheduleVertices(schedule, last) : null;
}
