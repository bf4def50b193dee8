/**
 * A search space: each searched config field with its distribution, mapped onto a coordinate in [0, 1] (its
 * sampling scale: log10 for log-uniform and log int parameters, linear otherwise) that the samplers work in, and
 * back to a value the training config takes.
 *
 * Values are rounded so that trials.csv shows them as they are: a log-uniform value is 10^l with l rounded to
 * 6 decimals (the lambda-only searches of earlier versions drew l = log10 lambda exactly so), a uniform value has
 * 6 significant digits, an int is an integer within its bounds.
 */
import { choiceIndex, type ParamSpec, type ParamValue, type TrialParams } from '../config/search-schema.js';

export const round6 = (v: number) => Math.round(v * 1e6) / 1e6;
const sig6 = (v: number) => Number(v.toPrecision(6));
const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

export type NumericSpec = Exclude<ParamSpec, { dist: 'choice' }>;

export const isLogScale = (p: ParamSpec): boolean => p.dist === 'log-uniform' || (p.dist === 'int' && p.log);

/**
 * The interval of the sampling scale that coordinate 0..1 spans. An int parameter covers [min − 0.5, max + 0.5]
 * (each integer gets an equal share of a uniform draw, or of its log).
 */
export function scaleBounds(p: NumericSpec): { lo: number; hi: number } {
  switch (p.dist) {
    case 'log-uniform':
      return { lo: round6(Math.log10(p.min)), hi: round6(Math.log10(p.max)) };
    case 'uniform':
      return { lo: p.min, hi: p.max };
    case 'int':
      return p.log ? { lo: Math.log10(p.min - 0.5), hi: Math.log10(p.max + 0.5) } : { lo: p.min - 0.5, hi: p.max + 0.5 };
  }
}

/** The value at coordinate u ∈ [0, 1] of a parameter (for a choice: the value whose share of [0, 1) holds u). */
export function valueAt(p: ParamSpec, u: number): ParamValue {
  if (p.dist === 'choice') return p.values[Math.min(p.values.length - 1, Math.floor(u * p.values.length))];
  const { lo, hi } = scaleBounds(p);
  const t = lo + (hi - lo) * u;
  return valueOfScale(p, t);
}

/** The value at a point t of the parameter's sampling scale. */
function valueOfScale(p: NumericSpec, t: number): number {
  switch (p.dist) {
    case 'log-uniform':
      return 10 ** round6(t);
    case 'uniform':
      return clamp(sig6(t), p.min, p.max);
    case 'int':
      return clamp(Math.round(p.log ? 10 ** t : t), p.min, p.max);
  }
}

/** Where a value lies on the parameter's sampling scale (not clamped), for plots and the model-based sampler. */
export function scaleOf(p: NumericSpec, v: number): number {
  return isLogScale(p) ? Math.log10(v) : v;
}

/** The coordinate in [0, 1] of a value (choices: the centre of its share), the inverse of valueAt. */
export function coordOf(p: ParamSpec, v: ParamValue): number {
  if (p.dist === 'choice') {
    const i = choiceIndex(p.values, v);
    return (Math.max(0, i) + 0.5) / p.values.length;
  }
  const { lo, hi } = scaleBounds(p);
  return clamp((scaleOf(p, v as number) - lo) / (hi - lo), 0, 1);
}

/** `n` grid values of a parameter, evenly spaced in its scale, both ends included (one value: the middle). */
export function gridValues(p: ParamSpec, n: number): ParamValue[] {
  if (p.dist === 'choice') return [...p.values];
  // An int grid spans [min, max] themselves, not the half-integers a draw covers.
  const { lo, hi } = p.dist === 'int' ? (p.log ? { lo: Math.log10(p.min), hi: Math.log10(p.max) } : { lo: p.min, hi: p.max }) : scaleBounds(p);
  const ts = n === 1 ? [(lo + hi) / 2] : Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
  const values = ts.map((t) => valueOfScale(p, t));
  return [...new Set(values)];
}

/** The short name of a parameter: the last key of its path (base.train.lambda → lambda). */
export const shortName = (path: string) => path.slice(path.lastIndexOf('.') + 1);

/** A value as trials.csv and the logs show it. */
export function formatValue(p: ParamSpec | undefined, v: ParamValue): string {
  if (typeof v !== 'number') return String(v);
  if (p?.dist === 'int' || Number.isInteger(v)) return String(v);
  if (p?.dist === 'log-uniform' || Math.abs(v) < 1e-3) return v.toExponential(2);
  return String(Number(v.toPrecision(3)));
}

/** "lambda=1.23e-3 hidden=57": a trial's values in a few characters. */
export function paramsLabel(space: Record<string, ParamSpec>, values: TrialParams): string {
  return Object.keys(space).map((k) => `${shortName(k)}=${values[k] === undefined ? '?' : formatValue(space[k], values[k])}`).join(' ');
}
