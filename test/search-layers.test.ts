/** Searching a network's depth: a choice of hidden-width lists for base.model.layers, with batch norm on or off. */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config/load.js';
import { choiceIndex, type SearchConfig } from '../src/config/search-schema.js';
import { gridTrials } from '../src/search/samplers.js';
import { coordOf, paramsLabel, valueAt } from '../src/search/space.js';
import { withParams } from '../src/search/trial-config.js';

const space = { 'base.model.layers': { dist: 'choice' as const, values: [[50], [50, 50], [50, 30, 20]] }, 'base.model.batchNorm': { dist: 'choice' as const, values: [false, true] } };

describe('base.model.layers as a searched field', () => {
  it('validates list choices against the training schema, and names a bad one', () => {
    const config = validateConfig({ kind: 'search', space: { sampler: 'grid', params: space } }, 'x.yaml') as SearchConfig;
    expect(config.space.params!['base.model.layers']).toEqual(space['base.model.layers']);
    expect(() => validateConfig({ kind: 'search', space: { params: { 'base.model.layers': { dist: 'choice', values: [[50], [0]] } } } }, 'x.yaml')).toThrow(/base\.model\.layers/);
  });

  it('grids every combination, sets the lists in the trial configs, and finds list values by their entries', () => {
    const trials = gridTrials(space, 6);
    expect(trials).toHaveLength(6);
    const base = (validateConfig({ kind: 'search', space: { params: space } }, 'x.yaml') as SearchConfig).base;
    const configs = trials.map((t) => withParams(base, t));
    expect(configs.map((c) => [c.model.layers, c.model.batchNorm])).toContainEqual([[50, 30, 20], true]);
    const p = space['base.model.layers'];
    expect(choiceIndex(p.values, [50, 50])).toBe(1); // another array with the same entries (as read back from files)
    expect(choiceIndex(p.values, [50, 51])).toBe(-1);
    expect(valueAt(p, coordOf(p, [50, 30, 20]))).toEqual([50, 30, 20]);
    expect(paramsLabel(space, { 'base.model.layers': [50, 50], 'base.model.batchNorm': true })).toBe('layers=50,50 batchNorm=true');
  });
});
