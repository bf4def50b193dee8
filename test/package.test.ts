// The package as a user gets it: `npm pack` holds what the CLI and the library need at run time and nothing of the
// development (tests, benchmarks, AssemblyScript sources, source maps); the tarball installs into an empty project,
// where `import('cifar-mlp')` gives the API, the README's "Use as a library" example runs, and a TypeScript consumer
// type-checks against the shipped declarations.
//
// The install: the project's node_modules is first filled with hard links to this worktree's installed packages (no
// download, no unpacking), then `npm install <tarball>` makes it the tarball's tree: it adds cifar-mlp and removes
// every package the tarball does not depend on (the devDependencies: vitest, typescript, esbuild… are checked gone),
// so the example runs with the declared dependencies only. CIFAR_MLP_PACK_CLEAN_INSTALL=1 installs into a truly empty
// node_modules instead (from the npm cache or the registry; minutes).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSyntheticCifar } from './helpers/synthetic.js';

const repo = resolve('.');
const root = mkdtempSync(join(tmpdir(), 'cifar-package-'));
const project = join(root, 'project');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const shell = process.platform === 'win32'; // Node runs .cmd files through a shell only
const DEV_ONLY = ['vitest', 'typescript', 'esbuild', 'playwright-core', '@sparticuz/chromium', 'assemblyscript', '@types/node'];

let tarball: string;
let packed: { files: { path: string; size: number }[]; size: number; unpackedSize: number; entryCount: number };

/** Hard links of every file under `from` in `to` (symbolic links recreated; a copy where linking is refused). */
function linkTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    if (name === '.cache' || name.startsWith('.vite')) continue;
    const src = join(from, name), dst = join(to, name);
    const st = lstatSync(src);
    if (st.isSymbolicLink()) symlinkSync(readlinkSync(src), dst);
    else if (st.isDirectory()) linkTree(src, dst);
    else {
      try {
        linkSync(src, dst);
      } catch {
        copyFileSync(src, dst);
      }
    }
  }
}

/** The js block after the library-example marker of the README. */
function readmeExample(): string {
  const readme = readFileSync('README.md', 'utf8');
  const at = readme.indexOf('<!-- library-example');
  expect(at, 'README.md has no library-example marker').toBeGreaterThan(0);
  const block = /```js\n([\s\S]*?)```/.exec(readme.slice(at));
  expect(block, 'no ```js block after the library-example marker').not.toBeNull();
  return block![1];
}

beforeAll(() => {
  // dist/ is fresh (the suite's global setup builds it, declarations included): pack without running prepare again.
  const out = execFileSync(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', root], { encoding: 'utf8', shell });
  packed = JSON.parse(out)[0];
  tarball = join(root, (packed as unknown as { filename: string }).filename);

  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), `${JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2)}\n`);
  if (process.env.CIFAR_MLP_PACK_CLEAN_INSTALL !== '1') linkTree(join(repo, 'node_modules'), join(project, 'node_modules'));
  const r = spawnSync(npm, ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund'], { cwd: project, encoding: 'utf8', timeout: 900_000, shell });
  if (r.status !== 0) throw new Error(`npm install ${tarball} failed (${r.status ?? r.signal}): ${r.stderr.slice(-2000)}`);
}, 1_000_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('npm pack', () => {
  it('holds the CLI, the library with its declarations, the worker, the kernels and the example configs: no tests, benchmarks, sources or maps', () => {
    const files = packed.files.map((f) => f.path).sort();
    for (const f of ['package.json', 'README.md', 'dist/cli.js', 'dist/index.js', 'dist/trial-worker.js', 'dist/gather-thread.js', 'dist/wasm-simd-thread.js', 'dist/types/index.d.ts',
      'dist/types/api/train.d.ts', 'dist/wasm/kernels.wasm', 'dist/wasm/kernels-relaxed.wasm', 'config/cycle1.yaml', 'config/search-coarse.yaml']) {
      expect(files, f).toContain(f);
    }
    const unwanted = files.filter((f) => /^(test|bench|assembly|src|scripts|docs|\.ci)\//.test(f) || f.endsWith('.map') ||
      (f.endsWith('.ts') && !f.endsWith('.d.ts')) || /(^|\/)(tsconfig.*|vitest\.config\.ts|build\.mjs|package-lock\.json)$/.test(f) ||
      /^dist\/(bench|search-bench|augment-bench|rss-bench|screenshots)\.js$/.test(f));
    expect(unwanted).toEqual([]);
    // Every chunk the entry points import is packed (esbuild's splitting): checked by running them below.
    expect(files.filter((f) => f.startsWith('dist/chunks/')).length).toBeGreaterThan(0);
    process.stderr.write(`npm pack: ${packed.entryCount} files, ${(packed.size / 1024).toFixed(0)} kB packed, ${(packed.unpackedSize / 1024).toFixed(0)} kB unpacked\n`);
  });
});

describe('the tarball installed into an empty project', () => {
  it('installs with its declared dependencies only', () => {
    const pkg = JSON.parse(readFileSync(join(project, 'node_modules', 'cifar-mlp', 'package.json'), 'utf8'));
    expect(pkg.name).toBe('cifar-mlp');
    for (const dev of DEV_ONLY) expect(existsSync(join(project, 'node_modules', dev)), `${dev} (a devDependency) is installed`).toBe(false);
    for (const dep of Object.keys(pkg.dependencies)) expect(existsSync(join(project, 'node_modules', dep)), dep).toBe(true);
  });

  it('import(\'cifar-mlp\') gives the API, and the command works from node_modules/.bin', () => {
    const keys = execFileSync(process.execPath, ['-e', 'import("cifar-mlp").then((m) => console.log(Object.keys(m).sort().join(" ")))'], { cwd: project, encoding: 'utf8' });
    expect(keys.trim().split(' ')).toEqual(['ConfigError', 'UsageError', 'configReference', 'evaluate', 'loadConfig', 'loadModel', 'predict', 'search', 'train', 'validateConfig']);
    const help = spawnSync(join(project, 'node_modules', '.bin', process.platform === 'win32' ? 'cifar-mlp.cmd' : 'cifar-mlp'), ['--help'], { cwd: project, encoding: 'utf8', shell });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/Usage: cifar-mlp/);
  });

  it('runs the README\'s "Use as a library" example on synthetic CIFAR-10 files', () => {
    const data = writeSyntheticCifar(join(root, 'cifar'), 200, 90);
    writeFileSync(join(project, 'example.mjs'), readmeExample());
    const env: NodeJS.ProcessEnv = { ...process.env, CIFAR10_DIR: data };
    const r = spawnSync(process.execPath, ['example.mjs'], { cwd: project, env, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    // Progress at the 11 evaluation points of one cycle (steps 0, 100, …, 1000), then the results.
    const progress = r.stdout.split('\n').filter((l) => l.startsWith('step '));
    expect(progress.map((l) => Number(/^step (\d+)\/1000 /.exec(l)![1]))).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    const test = Number(/^completed: test accuracy (0\.\d+|1)$/m.exec(r.stdout)?.[1]);
    expect(test).toBeGreaterThan(0.5); // the synthetic classes are learnable
    expect(r.stdout).toMatch(new RegExp(`^evaluated: test accuracy ${test}$`, 'm'));
    expect(r.stdout).toMatch(/^a grey image: (airplane|automobile|bird|cat|deer|dog|frog|horse|ship|truck) \(0\.\d{3}\)$/m);
    const summary = JSON.parse(readFileSync(join(project, 'runs', 'lambda-1e-3', 'summary.json'), 'utf8'));
    expect(summary.status).toBe('completed');
    expect(summary.final.test.accuracy).toBe(test);
    expect(existsSync(join(project, 'runs', 'lambda-1e-3', 'report.html'))).toBe(true);
    // the CPU backends start their threads from the installed dist/*-thread.js files
    const passedOver: { name: string; reason: string }[] = summary.backendChoice?.passedOver ?? [];
    expect(passedOver.filter((p) => /worker .* not found/.test(p.reason))).toEqual([]);
  }, 180_000);

  it('type-checks a TypeScript consumer against the shipped declarations (tsc --noEmit)', () => {
    writeFileSync(join(project, 'consumer.ts'), `
import { ConfigError, evaluate, loadConfig, loadModel, predict, search, train, UsageError, validateConfig } from 'cifar-mlp';
import type { Evaluation, Prediction, SearchConfig, SearchEvent, SearchSummary, Summary, TrainConfig, TrainProgress } from 'cifar-mlp';

const config: TrainConfig = loadConfig('config.yaml', { kind: 'train', set: ['train.lambda=0.001'] });
const searchConfig: SearchConfig = validateConfig({ kind: 'search' }, { kind: 'search' });
const lambda: number = config.train.lambda;
const progress: TrainProgress[] = [];
const run: Promise<Summary> = train(config, { out: 'runs/x', signal: new AbortController().signal, onProgress: (p) => progress.push(p) });
const found: Promise<SearchSummary> = search(searchConfig, { out: 'runs/s', onProgress: (e: SearchEvent) => { if (e.type === 'trial-finished') console.log(e.valAccuracy); } });
const evaluation: Promise<Evaluation> = evaluate('runs/x', { data: 'data' });
const predictions: Promise<Prediction[]> = predict('runs/x', [new Uint8Array(3072), 'cat.png']);
async function use(): Promise<number | undefined> {
  const model = await loadModel('runs/x/model.json');
  const [p] = await model.predict(new Uint8Array(3072));
  await model.dispose();
  const s = await run;
  if (s.status === 'completed') return s.final?.test?.accuracy;
  return p.probabilities[p.label];
}
try { loadConfig({}); } catch (e) { if (e instanceof ConfigError) console.log(e.problems.join('\\n')); else if (e instanceof UsageError) console.log(e.exitCode); }

// @ts-expect-error out is required
void train(config, {});
// @ts-expect-error a search config is not a training config
const wrong: TrainConfig = loadConfig('search.yaml', { kind: 'search' });
// @ts-expect-error lr is a number
const lr: string = progress[0].lr;
// @ts-expect-error no such split
void evaluation.then((ev) => ev.splits.holdout);
void [lambda, found, predictions, use, wrong, lr];
`);
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false,
        types: ['node'], typeRoots: [join(repo, 'node_modules', '@types')],
      },
      files: ['consumer.ts'],
    }, null, 2));
    const tscPkg = join(repo, 'node_modules', 'typescript', 'package.json');
    const tsc = join(repo, 'node_modules', 'typescript', JSON.parse(readFileSync(tscPkg, 'utf8')).bin.tsc);
    const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json', '--listFiles'], { cwd: project, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain(join(project, 'node_modules', 'cifar-mlp', 'dist', 'types', 'index.d.ts'));
  }, 150_000);
});
