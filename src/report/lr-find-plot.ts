/** The figure of a learning-rate range test: batch loss (raw and smoothed) against the learning rate, log scale. */
import type { TopLevelSpec } from 'vega-lite';
import type { LrFindPoint, LrSuggestion } from '../formats/lr-find.js';
import { scatterSpec, writeFigure, type Figure } from './plots.js';

export function lrFindSpec(points: readonly LrFindPoint[], suggestion: LrSuggestion | null, title: string, subtitle?: string): TopLevelSpec {
  const finite = points.filter((p) => Number.isFinite(p.loss) && Number.isFinite(p.smoothed));
  // The style of the other figures (fonts, sizes), from the generic plot's spec.
  const base = scatterSpec({ x: 'eta', y: 'loss', points: [], title, subtitle, xLabel: '', yLabel: '' }) as unknown as Record<string, unknown>;
  // The y range of the interesting part: from below the lowest smoothed loss to above where the sweep started (the
  // blow-up at the end leaves the plot at the top instead of flattening everything else).
  const low = finite.length ? Math.min(...finite.map((p) => p.smoothed)) : 0;
  const first = finite.length ? Math.max(...finite.slice(0, Math.max(1, finite.length >> 3)).map((p) => p.smoothed)) : 1;
  const top = first + 0.25 * Math.max(first - low, 0.05 * first), bottom = Math.max(0, low - 0.25 * Math.max(first - low, 0.05 * first));
  const values = finite.flatMap((p) => [
    { eta: p.eta, loss: Math.min(p.loss, top), series: 'batch loss' },
    { eta: p.eta, loss: Math.min(p.smoothed, top), series: 'smoothed' },
  ]);
  const x = { field: 'eta', type: 'quantitative', scale: { type: 'log' }, title: 'learning rate η (log scale)', axis: { format: '~e', tickCount: 8 } };
  const marks = suggestion
    ? [{ eta: suggestion.etaMin, label: `etaMin ${suggestion.etaMin.toPrecision(2)}` }, { eta: suggestion.etaMax, label: `etaMax ${suggestion.etaMax.toPrecision(2)}` }]
    : [];
  return {
    $schema: base.$schema,
    title: base.title,
    width: 560,
    height: 320,
    config: base.config,
    layer: [
      {
        data: { values },
        // Batch losses below the range would be drawn under the x axis: clipped to the plot.
        mark: { type: 'line', strokeWidth: 2, clip: true },
        encoding: {
          x,
          y: { field: 'loss', type: 'quantitative', title: 'training batch loss', scale: { zero: false, domain: [bottom, top] } },
          color: { field: 'series', type: 'nominal', title: null, scale: { domain: ['batch loss', 'smoothed'], range: ['#c6d7ea', '#4c78a8'] } },
        },
      },
      ...(marks.length ? [{
        data: { values: marks },
        layer: [
          { mark: { type: 'rule', strokeDash: [6, 4], color: '#e45756', strokeWidth: 1.5 }, encoding: { x } },
          { mark: { type: 'text', align: 'left', dx: 4, dy: -6, color: '#e45756', fontSize: 12 }, encoding: { x, y: { value: 12 }, text: { field: 'label' } } },
        ],
      }] : []),
    ],
  } as unknown as TopLevelSpec;
}

/** Writes `<basePath>.svg` and `<basePath>.png`. */
export async function writeLrFindFigure(points: readonly LrFindPoint[], suggestion: LrSuggestion | null, basePath: string, title: string, subtitle?: string): Promise<Figure> {
  return writeFigure(lrFindSpec(points, suggestion, title, subtitle), basePath);
}
