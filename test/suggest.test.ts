/** "Did you mean" for config fields, --set paths (same machinery) and the closeness rule behind it. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/util/errors.js';
import { applySet, validateConfig } from '../src/config/load.js';
import { configSchemas } from '../src/config/schema.js';
import { closestName, fieldPaths, isNear, suggestField } from '../src/config/suggest.js';

const problems = (raw: Record<string, unknown>, sets: string[] = []): string[] => {
  for (const s of sets) applySet(raw, s);
  try {
    validateConfig(raw, 'c.yaml', sets.map((s) => s.slice(0, s.indexOf('='))));
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected the config to be rejected');
};

describe('field paths from the schema', () => {
  it('lists sections and leaves of every config kind, through defaults, prefaults, optionals and refinements', () => {
    const train = fieldPaths(configSchemas.train);
    expect(train).toEqual(expect.arrayContaining(['train', 'train.lambda', 'train.batchSize', 'schedule.ns', 'schedule.etaMax', 'data.holdout', 'eval.every', 'kernels.backend']));
    const search = fieldPaths(configSchemas.search);
    expect(search).toEqual(expect.arrayContaining(['base.train.lambda', 'space.from.topK', 'space.lMin', 'workers']));
    expect(search).not.toContain('train.lambda');
    expect(fieldPaths(configSchemas.gradcheck)).toEqual(expect.arrayContaining(['check.lambdas', 'float32.threshold', 'model.inputDims']));
  });
});

describe('closeness', () => {
  it('accepts typos by an edit distance that grows with the length, and case differences', () => {
    expect(isNear('lamda', 'lambda')).toBe(true);
    expect(isNear('batchsize', 'batchSize')).toBe(true);
    expect(isNear('nss', 'ns')).toBe(true);
    expect(isNear('etaMaks', 'etaMax')).toBe(true);
    expect(isNear('seed', 'name')).toBe(false);
    expect(isNear('model', 'kernels')).toBe(false);
    expect(closestName('evry', ['every', 'pointsPerCycle', 'trainSubset'])).toBe('every');
    expect(closestName('zzz', ['every', 'pointsPerCycle'])).toBeUndefined();
  });

  it('suggests a sibling, a sibling with the rest of a --set path, or the same path in another section', () => {
    const train = fieldPaths(configSchemas.train), search = fieldPaths(configSchemas.search);
    expect(suggestField('train.lamda', train)).toBe('train.lambda');
    expect(suggestField('trian', train, 'trian.batchSize')).toBe('train.batchSize');
    expect(suggestField('schedul', train)).toBe('schedule');
    expect(suggestField('lambda', train)).toBe('train.lambda');
    expect(suggestField('train', search, 'train.lambda')).toBe('base.train.lambda');
    expect(suggestField('train', search)).toBe('base.train');
    expect(suggestField('base.train.lamda', search)).toBe('base.train.lambda');
    expect(suggestField('worker', search)).toBe('workers');
    expect(suggestField('colour', train)).toBeUndefined();
  });
});

describe('config errors say what was meant', () => {
  it('for a typo in the file', () => {
    expect(problems({ train: { lamda: 0.1 } })).toEqual(['c.yaml: train.lamda: unknown field (got 0.1); did you mean train.lambda?']);
  });

  it('for --set paths, through the same messages', () => {
    expect(problems({}, ['schedule.nss=3'])).toEqual(['c.yaml: schedule.nss: unknown field (got 3) [from --set]; did you mean schedule.ns?']);
    expect(problems({ kind: 'search', space: { lMin: -5, lMax: -1 } }, ['train.lambda=0.1'])).toEqual([
      'c.yaml: train: unknown field (got {"lambda":0.1}) [from --set]; did you mean base.train.lambda?',
    ]);
  });

  it('names no field when nothing is close', () => {
    expect(problems({ colour: 'red' })).toEqual(['c.yaml: colour: unknown field (got "red")']);
  });
});
