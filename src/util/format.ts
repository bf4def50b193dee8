/** Number formatting shared by the CLI's lines, the progress displays and the report pages. */

/** A finite number (not NaN, not ±Infinity). */
export const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A fraction as a percentage with two decimals (0.4333 → "43.33%"); `missing` for anything else (absent, NaN). */
export const percent = (v: unknown, missing = 'NA'): string => (isFiniteNumber(v) ? `${(100 * v).toFixed(2)}%` : missing);

/**
 * The noise of an accuracy p measured on n records: the half-width 1.96·sqrt(p(1 − p)/n) of its 95% interval
 * (binomial, normal approximation), as a fraction.
 */
export const noiseHalfWidth = (p: number, n: number) => 1.96 * Math.sqrt(Math.max(0, p * (1 - p)) / n);

/** A number with `digits` decimals; `missing` for anything else. */
export const fixed = (v: unknown, digits = 4, missing = '—'): string => (isFiniteNumber(v) ? v.toFixed(digits) : missing);
