/**
 * `cifar-mlp evaluate <model>` and `cifar-mlp predict <model> <inputs…>`: use a trained model file
 * (`model.json`, or a run folder holding one; see src/formats/model-file.ts). A model file holding an ensemble
 * (snapshots, or the members of an ensemble run) predicts with the average of its networks.
 *
 * evaluate: accuracy on every split the model's config defines (train/val/test), per class, and a confusion
 *   matrix per split: printed, and written (atomically) to `<out>/evaluation.json` and `<out>/confusion-<split>.csv`
 *   (default out: the model file's folder).
 * predict: the predicted class and the class probabilities of images of any size (src/data/image-input.ts) and of
 *   CIFAR-10 records (.bin files: one line per record), through loadModel (src/experiment/predict-model.ts, the library's too).
 */
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { loadModel } from '../../experiment/predict-model.js';
import { evaluateIntoFolder } from '../../experiment/evaluate-model.js';
import { confusionFile, EVALUATION_FILE } from '../../formats/evaluation.js';
import { BACKEND_NAMES, type BackendName } from '../../kernels/names.js';
import { percent } from '../../util/format.js';
import { log } from '../log.js';
import { terminalLines } from '../../util/terminal-text.js';


/** ", ensemble of N networks (softmax average)" for an ensemble, else "". */
function describeModel(networks: number, average: string): string {
  return networks > 1 ? `, ensemble of ${networks} networks (${average} average)` : '';
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

async function evaluateCommand(target: string, o: { data?: string; out?: string; backend?: BackendName }): Promise<number> {
  const e = await withInterruptibleDownload((signal) => evaluateIntoFolder(target, { ...o, log, signal }));
  const names = Object.keys(e.splits), classes = e.classes;
  const w = Math.max(8, ...classes.map((c) => c.length));
  const lines = [
    `model ${e.model} (step ${e.step} of ${e.totalSteps}, ${e.name}${describeModel(e.networks.length, e.average)}); data ${e.dataDir}; backend ${e.backend}`,
    `${'split'.padEnd(w)}  ${'records'.padStart(8)}  accuracy`,
    ...names.map((n) => `${n.padEnd(w)}  ${String(e.splits[n].records).padStart(8)}  ${percent(e.splits[n].accuracy, '-').padStart(8)}`),
    '',
    `${'class'.padEnd(w)}  ${names.map((n) => n.padStart(8)).join('  ')}`,
    ...classes.map((c) => `${c.padEnd(w)}  ${names.map((n) => percent(e.splits[n].perClass[c].accuracy, '-').padStart(8)).join('  ')}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  log(`cifar-mlp: evaluation written to ${join(e.outDir, EVALUATION_FILE)} and ${names.map((n) => confusionFile(n)).join(', ')}`);
  return 0;
}

// ---------------------------------------------------------------------------------------------------------
// predict

async function predictCommand(modelPath: string, inputs: string[], o: { backend?: BackendName; json?: boolean }): Promise<number> {
  const model = await loadModel(modelPath, o.backend ? { backend: o.backend } : {});
  try {
    const predictions = await model.predict(inputs); // every input is checked before any output
    const lines = predictions.map((p) => {
      const probabilities = Object.entries(p.probabilities);
      if (o.json) {
        return JSON.stringify({
          input: p.source, ...(p.record !== undefined ? { record: p.record } : {}),
          label: p.label, ...(p.trueLabel !== undefined ? { trueLabel: p.trueLabel } : {}), probability: p.probability,
          probabilities: Object.fromEntries(probabilities.map(([n, q]) => [n, Number(q.toPrecision(6))])),
        });
      }
      return `${p.record !== undefined ? `${p.source}#${p.record}` : p.source}: ${p.label} ${p.probability.toFixed(4)}` +
        (p.trueLabel !== undefined ? ` (true label ${p.trueLabel})` : '') + ` | ${probabilities.map(([n, q]) => `${n} ${q.toFixed(4)}`).join(' ')}`;
    });
    process.stdout.write(`${terminalLines(lines.join('\n')).join('\n')}\n`);
  } finally {
    await model.dispose();
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
    .addOption(new Option('--backend <name>', 'kernel backend (default: the model config\'s)').choices([...BACKEND_NAMES]))
    .action(async (model: string, o) => setExitCode(await evaluateCommand(model, o)));

  program
    .command('predict')
    .description('Predicted class (`label`) and class probabilities of images or of CIFAR-10 .bin record files (one line per record; ' +
      'a record\'s own label as `trueLabel`). Images: PNG, JPEG, WebP or GIF of any size up to 50 megapixels, centre-cropped to a square and resized to 32×32.')
    .argument('<model>', 'model.json, or a run folder holding one')
    .argument('<inputs...>', 'image files (.png, .jpg, .webp, .gif) or records.bin files')
    .option('--json', 'one JSON object per line: input, record, label (the predicted class), trueLabel, probability, probabilities')
    .addOption(new Option('--backend <name>', 'kernel backend (default: the model config\'s)').choices([...BACKEND_NAMES]))
    .action(async (model: string, inputs: string[], o) => setExitCode(await predictCommand(model, inputs, o)));
}
