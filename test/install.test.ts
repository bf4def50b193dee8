// The install: every install script in the dependency tree is reviewed in package.json's allowScripts (no npm 11
// "not covered" notice, the same install under npm 12), gl's minutes-long native build is left out of `npm ci`, and
// the command that builds it on request is the one the docs, CI and the backend's error message give.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GL_BUILD } from '../src/kernels/headless-gl-setup.js';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { allowScripts: Record<string, boolean> };
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> };

describe('install scripts', () => {
  it('allowScripts covers every package of the lockfile that has an install script; gl\'s build is denied', () => {
    const withScripts = Object.entries(lock.packages)
      .filter(([path, p]) => path !== '' && p.hasInstallScript)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(withScripts).toContain('gl');
    for (const name of withScripts) expect(Object.keys(pkg.allowScripts), name).toContain(name);
    expect(pkg.allowScripts.gl).toBe(false);
    for (const [name, allowed] of Object.entries(pkg.allowScripts)) if (name !== 'gl') expect(allowed, name).toBe(true);
  });

  it('docs/gpu.md and .ci/run build gl with the command the headlessgl error names', () => {
    expect(readFileSync('docs/gpu.md', 'utf8')).toContain(GL_BUILD);
    const ci = readFileSync('.ci/run', 'utf8');
    expect(ci).toContain(GL_BUILD);
    expect(ci.indexOf('npm ci')).toBeLessThan(ci.indexOf(GL_BUILD));
    expect(ci).toContain(`node -e "require('gl')"`);
  });
});
