/**
 * The confusion matrix of an evaluation as a figure, `confusion-<split>.svg/png` beside its CSV: true class down,
 * predicted class across, each cell coloured by the fraction of its true class and labelled with its count; the
 * run's report page shows the test split's.
 */
import type { TopLevelSpec } from 'vega-lite';
import { BASE_CONFIG, writeFigure, type Figure } from './plots.js';

/** The figure's file name without extension, per split (beside confusion-<split>.csv). */
export const confusionFigure = (split: string) => `confusion-${split}`;

export function confusionSpec(confusion: number[][], classes: string[], title: string): TopLevelSpec {
  const cells = confusion.flatMap((row, t) => {
    const n = row.reduce((a, b) => a + b, 0);
    return row.map((count, p) => ({ truth: classes[t] ?? String(t), predicted: classes[p] ?? String(p), count, share: n ? count / n : 0, diagonal: t === p }));
  });
  const order = classes.length ? classes : confusion.map((_, i) => String(i));
  const x = { field: 'predicted', type: 'ordinal', sort: order, title: 'predicted class', axis: { labelAngle: -40 } };
  const y = { field: 'truth', type: 'ordinal', sort: order, title: 'true class' };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle: 'count per (true, predicted) class; colour: the fraction of the true class' },
    width: 40 * order.length, height: 40 * order.length, config: BASE_CONFIG,
    data: { values: cells },
    layer: [
      { mark: { type: 'rect' }, encoding: { x, y, color: { field: 'share', type: 'quantitative', title: 'of true class', scale: { scheme: 'blues', domain: [0, 1] }, legend: { format: '.0%' } } } },
      {
        mark: { type: 'text', fontSize: 10 },
        encoding: { x, y, text: { field: 'count', type: 'quantitative' }, color: { condition: { test: 'datum.share > 0.5', value: 'white' }, value: '#222' } },
      },
    ],
  } as unknown as TopLevelSpec;
}

/** Writes `<dir>/confusion-<split>.svg` and `.png`. */
export function writeConfusionFigure(dir: string, split: string, confusion: number[][], classes: string[], title: string): Promise<Figure> {
  return writeFigure(confusionSpec(confusion, classes, title), `${dir}/${confusionFigure(split)}`);
}
