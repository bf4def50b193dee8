/** The browser lookup of test/helpers/browser.ts: order of the sources, the one-line "missing" message, CI=true. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BASE_ARGS, browserOrSkip, chromiumCandidates, launchChromium, type LookupEnv } from './helpers/browser.js';

const lookup = (o: Partial<LookupEnv> & { files?: string[] } = {}): LookupEnv => ({
  platform: 'linux',
  arch: 'x64',
  env: { PATH: '/opt/bin:/usr/local/bin' },
  isExecutable: (p) => (o.files ?? []).includes(p),
  npmChromium: async () => ({ executablePath: '/tmp/chromium', args: ['--single-process', '--disable-web-security', '--use-gl=angle', '--no-sandbox'] }),
  ...o,
});

afterEach(() => vi.restoreAllMocks());

describe('chromium lookup', () => {
  it('tries the npm Chromium first, then system browsers at their usual paths and on PATH', async () => {
    const { candidates } = await chromiumCandidates(lookup({ files: ['/usr/bin/chromium', '/opt/bin/google-chrome'] }));
    expect(candidates.map((c) => c.source)).toEqual(['npm @sparticuz/chromium', 'system /usr/bin/chromium', 'system /opt/bin/google-chrome']);
    const npm = candidates[0];
    expect(npm.executablePath).toBe('/tmp/chromium');
    expect(npm.args).toEqual(expect.arrayContaining([...BASE_ARGS, '--use-gl=angle']));
    expect(npm.args).not.toContain('--single-process');
    expect(npm.args).not.toContain('--disable-web-security');
    expect(new Set(npm.args).size).toBe(npm.args.length);
  });

  it('puts $CIFAR_MLP_CHROMIUM first and names it when it is not an executable', async () => {
    const ok = await chromiumCandidates(lookup({ env: { CIFAR_MLP_CHROMIUM: '/x/chrome' }, files: ['/x/chrome'] }));
    expect(ok.candidates[0].source).toBe('$CIFAR_MLP_CHROMIUM /x/chrome');
    const bad = await chromiumCandidates(lookup({ env: { CIFAR_MLP_CHROMIUM: '/x/none' } }));
    expect(bad.notes[0]).toContain('/x/none is not an executable');
  });

  it('uses only system browsers where the npm package has no Chromium (macOS, Windows, other CPUs)', async () => {
    const mac = '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome';
    const r = await chromiumCandidates(lookup({ platform: 'darwin', arch: 'arm64', files: [mac], npmChromium: async () => { throw new Error('must not be called'); } }));
    expect(r.candidates.map((c) => c.executablePath)).toEqual([mac]);
    expect(r.notes.join()).toContain('no Chromium for darwin-arm64');
    const ppc = await chromiumCandidates(lookup({ arch: 'ppc64' }));
    expect(ppc.candidates).toEqual([]);
  });

  it('says in one line what is missing when no browser can be had', async () => {
    const r = await launchChromium(lookup({ npmChromium: async () => null }));
    expect('missing' in r).toBe(true);
    const line = (r as { missing: string }).missing;
    expect(line).not.toContain('\n');
    expect(line).toContain('@sparticuz/chromium is not installed');
    expect(line).toContain('no system Chrome/Chromium found');
  });

  it('reports a browser that does not start, with its source', async () => {
    const r = await launchChromium(lookup({ npmChromium: async () => ({ executablePath: '/nonexistent/chromium', args: [] }) }));
    expect((r as { missing: string }).missing).toMatch(/npm @sparticuz\/chromium did not start/);
  });

  it('skips with ONE line naming what is missing, and fails instead under CI=true', async () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(await browserOrSkip('page test', lookup({ npmChromium: async () => null }))).toBeNull();
    expect(write).toHaveBeenCalledTimes(1);
    const text = String(write.mock.calls[0][0]);
    expect(text).toMatch(/^SKIPPED page test: no headless Chromium: .*@sparticuz\/chromium.*\n$/);
    expect(text.trimEnd()).not.toContain('\n');
    write.mockClear();
    await expect(browserOrSkip('page test', lookup({ env: { CI: 'true' }, npmChromium: async () => null }))).rejects.toThrow(/CI=true: a missing browser is a failure/);
    expect(write).not.toHaveBeenCalled();
  });
});
