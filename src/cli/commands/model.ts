/**
 * `cifar-mlp evaluate <model>` and `cifar-mlp predict <model> <inputs…>`: use a trained model file
 * (`model.json`, or a run folder holding one; see src/model/checkpoint.ts).
 *
 * evaluate: accuracy on every split the model's config defines (train/val/test), per class, and a confusion
 *   matrix per split: printed, and written (atomically) to `<out>/evaluation.json` and `<out>/confusion-<split>.csv`
 *   (default out: the model file's folder).
 * predict: the predicted class and the class probabilities of 32×32 RGB(A) PNG images and of CIFAR-10 records
 *   (.bin files: one line per record).
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Option, type Command } from 'commander';
import { PNG } from 'pngjs';
import { UsageError } from '../../config/errors.js';
import { acquireDataDir } from '../../data/acquire.js';
import { CLASSES, PIXELS, RECORD_BYTES, readBatches, type Dataset } from '../../data/cifar.js';
import { loadSplits, type Splits } from '../../data/splits.js';
import type { KernelBackend } from '../../kernels/backend.js';
import type { FolderLock } from '../../util/folder-lock.js';
import { claimDir } from '../out-dir.js';
import type { BackendName } from '../../kernels/select.js';
import { argmax, loadCheckpoint, networkFromCheckpoint, Predictor, readClassNames, type Checkpoint } from '../../model/checkpoint.js';
import { chosenTrialDir, isSearchFolder, missingTrialModel } from '../../search/folder.js';
import { writeFileAtomic, writeJsonAtomic } from '../../util/atomic.js';
import { selectBackendOrExplain } from './train.js';

const BACKENDS = ['auto', 'wasm-simd', 'webasm', 'cpu', 'headlessgl', 'webgpu', 'reference'] as const;
const log = (line: string) => process.stderr.write(`${line}\n`);
const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(2)}%` : '-');

export interface SplitEvaluation {
  records: number;
  accuracy: number;
  perClass: Record<string, { records: number; accuracy: number }>;
  /** confusion[true][predicted] */
  confusion: number[][];
}

/** Accuracy, per-class accuracy and confusion matrix of a model on a dataset. */
export async function evaluateSplit(predictor: Predictor, data: Dataset, classes: string[]): Promise<SplitEvaluation> {
  const confusion = Array.from({ length: CLASSES }, () => new Array<number>(CLASSES).fill(0));
  let correct = 0;
  await predictor.forEach(data, (i, p) => {
    const y = data.labels[i], guess = argmax(p);
    confusion[y][guess]++;
    if (y === guess) correct++;
  });
  const perClass = Object.fromEntries(classes.map((name, c) => {
    const n = confusion[c].reduce((a, b) => a + b, 0);
    return [name, { records: n, accuracy: n ? confusion[c][c] / n : NaN }];
  }));
  return { records: data.count, accuracy: data.count ? correct / data.count : NaN, perClass, confusion };
}

export function confusionCsv(confusion: number[][], classes: string[]): string {
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  return [['true\\predicted', ...classes].map(q).join(','), ...confusion.map((row, c) => [q(classes[c]), ...row].join(','))].join('\n') + '\n';
}

function backendOf(o: { backend?: BackendName }, cp: Checkpoint): BackendName {
  return o.backend ?? cp.config.kernels.backend;
}

/**
 * Runs `f` with a signal that SIGINT/SIGTERM abort (a download then stops and removes its temporary files;
 * a second signal quits at once). Afterwards the default handling (quit) applies again: every result file is
 * written atomically, so quitting never leaves half a file.
 */
async function withInterruptibleDownload<T>(f: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = () => (controller.signal.aborted ? process.exit(130) : controller.abort());
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await f(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function evaluateCommand(modelPath: string, o: { data?: string; out?: string; backend?: BackendName }): Promise<number> {
  if (isSearchFolder(modelPath)) {
    const dir = chosenTrialDir(modelPath);
    log(`cifar-mlp: ${modelPath} is a search: evaluating its chosen trial (best validation accuracy), ${dir}`);
    modelPath = dir;
  }
  const missing = missingTrialModel(modelPath);
  if (missing) throw new UsageError(missing);
  const cp = loadCheckpoint(modelPath);
  // The data: --data, else the folder the model was trained on (when it still exists), else the usual search.
  const cliDir = o.data ?? (cp.data.dir && existsSync(cp.data.dir) ? cp.data.dir : undefined);
  const dataDir = await withInterruptibleDownload((signal) => acquireDataDir({ cliDir, data: cp.config.data, log, signal }));
  const splits = loadSplits(cp.config.data, dataDir, `${cp.path}: config`);
  if (splits.train.count !== cp.data.train || splits.val.count !== cp.data.val || splits.test.count !== cp.data.test) {
    log(`cifar-mlp: warning: ${dataDir} gives ${splits.train.count}/${splits.val.count}/${splits.test.count} train/val/test records, ` +
      `the model was trained with ${cp.data.train}/${cp.data.val}/${cp.data.test}`);
  }
  const classes = readClassNames(dataDir) ?? cp.classes;
  const outDir = o.out ?? dirname(cp.path);
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new UsageError(`--out ${outDir}: exists and is not a directory`);

  const { backend } = await selectBackendOrExplain(backendOf(o, cp), cp.config.kernels.threads);
  let lock: FolderLock;
  try {
    lock = claimDir(outDir, o.out ? `--out ${outDir}` : outDir, log);
  } catch (e) {
    await backend.dispose();
    throw e;
  }
  try {
    return await evaluateInto(cp, splits, classes, backend, outDir, dataDir);
  } finally {
    lock.release();
  }
}

async function evaluateInto(cp: Checkpoint, splits: Splits, classes: string[], backend: KernelBackend, outDir: string, dataDir: string): Promise<number> {
  const results: Record<string, SplitEvaluation> = {};
  try {
    const predictor = new Predictor(await networkFromCheckpoint(cp, backend), cp.normalization);
    for (const [name, data] of Object.entries(splits)) {
      if (data.count > 0) results[name] = await evaluateSplit(predictor, data, classes);
    }
  } finally {
    await backend.dispose();
  }

  const names = Object.keys(results);
  const w = Math.max(8, ...classes.map((c) => c.length));
  const lines = [
    `model ${cp.path} (step ${cp.step} of ${cp.totalSteps}, ${cp.config.name}); data ${dataDir}; backend ${backend.name}`,
    `${'split'.padEnd(w)}  ${'records'.padStart(8)}  accuracy`,
    ...names.map((n) => `${n.padEnd(w)}  ${String(results[n].records).padStart(8)}  ${pct(results[n].accuracy).padStart(8)}`),
    '',
    `${'class'.padEnd(w)}  ${names.map((n) => n.padStart(8)).join('  ')}`,
    ...classes.map((c) => `${c.padEnd(w)}  ${names.map((n) => pct(results[n].perClass[c].accuracy).padStart(8)).join('  ')}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  // A write failure (full disk…) names the file: exit 1. An unwritable folder was refused when it was locked.
  for (const n of names) writeFileAtomic(join(outDir, `confusion-${n}.csv`), confusionCsv(results[n].confusion, classes));
  writeJsonAtomic(join(outDir, 'evaluation.json'), {
    model: cp.path, step: cp.step, totalSteps: cp.totalSteps, dataDir, backend: backend.name, classes,
    splits: results,
  });
  log(`cifar-mlp: evaluation written to ${join(outDir, 'evaluation.json')} and ${names.map((n) => `confusion-${n}.csv`).join(', ')}`);
  return 0;
}

// ---------------------------------------------------------------------------------------------------------
// predict

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** One 32×32 colour PNG as a CIFAR record's pixels (1024 red, 1024 green, 1024 blue; alpha ignored). */
export function pngToPixels(file: string, bytes: Buffer): Uint8Array {
  if (!bytes.subarray(0, 8).equals(PNG_SIGNATURE)) throw new UsageError(`${file}: not a PNG image (no PNG signature)`);
  let png: PNG;
  try {
    png = PNG.sync.read(bytes);
  } catch (e) {
    throw new UsageError(`${file}: not a readable PNG image (${(e as Error).message.split('\n')[0]})`);
  }
  if (png.width !== 32 || png.height !== 32) throw new UsageError(`${file}: image is ${png.width}×${png.height}, expected 32×32 pixels (CIFAR-10 size)`);
  const colorType = (png as unknown as { colorType?: number }).colorType;
  if (colorType === 0 || colorType === 4) throw new UsageError(`${file}: grayscale image, expected an RGB or RGBA image`);
  const out = new Uint8Array(PIXELS);
  for (let i = 0; i < 1024; i++) {
    out[i] = png.data[i * 4];
    out[1024 + i] = png.data[i * 4 + 1];
    out[2048 + i] = png.data[i * 4 + 2];
  }
  return out;
}

function readHead(file: string, n: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

interface Input {
  name: string;
  data: Dataset;
  /** true for CIFAR records (with a label), false for images */
  records: boolean;
}

function readInput(file: string): Input {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${file}: ${code === 'ENOENT' ? 'file not found' : `cannot read it (${code})`}`);
  }
  if (st.isDirectory()) throw new UsageError(`${file}: is a directory, expected a PNG image or a CIFAR-10 .bin file`);
  if (st.size === 0) throw new UsageError(`${file}: file is empty`);
  let head: Buffer;
  try {
    head = readHead(file, 8);
  } catch (e) {
    throw new UsageError(`${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (head.equals(PNG_SIGNATURE) || /\.png$/i.test(file)) {
    if (st.size > 16 * 2 ** 20) throw new UsageError(`${file}: ${st.size} bytes is too large for a 32×32 image`);
    const pixels = pngToPixels(file, readFileSync(file));
    return { name: file, data: { pixels, labels: new Uint8Array(1), count: 1 }, records: false };
  }
  if (/\.bin$/i.test(file) || st.size % RECORD_BYTES === 0) return { name: file, data: readBatches([file]), records: true };
  throw new UsageError(`${file}: not a PNG image nor a CIFAR-10 .bin file (${st.size} bytes is not a multiple of ${RECORD_BYTES})`);
}

async function predictCommand(modelPath: string, inputs: string[], o: { backend?: BackendName; json?: boolean }): Promise<number> {
  const cp = loadCheckpoint(modelPath);
  const parsed = inputs.map(readInput); // every input is checked before any output
  const classes = cp.classes;
  const { backend } = await selectBackendOrExplain(backendOf(o, cp), cp.config.kernels.threads);
  try {
    const predictor = new Predictor(await networkFromCheckpoint(cp, backend), cp.normalization);
    for (const input of parsed) {
      const out: string[] = [];
      await predictor.forEach(input.data, (i, p) => {
        const c = argmax(p);
        const name = input.records ? `${input.name}#${i}` : input.name;
        if (o.json) {
          out.push(JSON.stringify({
            input: input.name, ...(input.records ? { record: i, label: classes[input.data.labels[i]] } : {}),
            predicted: classes[c], probability: p[c],
            probabilities: Object.fromEntries(classes.map((n, j) => [n, Number(p[j].toPrecision(6))])),
          }));
        } else {
          out.push(`${name}: ${classes[c]} ${p[c].toFixed(4)}` + (input.records ? ` (label ${classes[input.data.labels[i]]})` : '') +
            ` | ${classes.map((n, j) => `${n} ${p[j].toFixed(4)}`).join(' ')}`);
        }
      });
      process.stdout.write(`${out.join('\n')}\n`);
    }
  } finally {
    await backend.dispose();
  }
  return 0;
}

export function registerModelCommands(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('evaluate')
    .description('Accuracy of a trained model (model.json or its run folder) on each split its config defines, per class, with confusion matrices.')
    .argument('<model>', 'model.json, a run folder holding one, a search folder (its chosen trial) or a search trial folder')
    .option('--data <dir>', 'CIFAR-10 folder (default: the one the model was trained on, else the usual search)')
    .option('--out <dir>', 'folder for evaluation.json and confusion-<split>.csv (default: the model file\'s folder)')
    .addOption(new Option('--backend <name>', 'kernel backend (default: the model config\'s)').choices(BACKENDS))
    .action(async (model: string, o) => setExitCode(await evaluateCommand(model, o)));

  program
    .command('predict')
    .description('Predicted class and class probabilities of 32×32 RGB/RGBA PNG images or CIFAR-10 .bin record files (one line per record).')
    .argument('<model>', 'model.json, or a run folder holding one')
    .argument('<inputs...>', 'image.png or records.bin files')
    .option('--json', 'one JSON object per line')
    .addOption(new Option('--backend <name>', 'kernel backend (default: the model config\'s)').choices(BACKENDS))
    .action(async (model: string, inputs: string[], o) => setExitCode(await predictCommand(model, inputs, o)));
}
