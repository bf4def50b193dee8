import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configReference, REFERENCE_END, REFERENCE_START } from '../src/config/doc.js';

describe('README', () => {
  const readme = readFileSync('README.md', 'utf8');
  it('carries the config reference generated from the schema (npm run docs refreshes it)', () => {
    const section = readme.slice(readme.indexOf(REFERENCE_START) + REFERENCE_START.length, readme.indexOf(REFERENCE_END)).trim();
    expect(section).toBe(configReference());
  });
  it('names every shipped config', () => {
    for (const c of ['gradcheck', 'sanity', 'cycle1', 'cycle3', 'search-coarse', 'search-fine', 'final', 'bonus']) expect(readme).toContain(`config/${c}.yaml`);
  });
});
