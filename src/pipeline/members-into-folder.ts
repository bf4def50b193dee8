/**
 * A training run with ensemble.members = N > 1 (`cifar-mlp run`, the library's `train()`): N independently seeded networks trained one after
 * the other, each a complete run in `<out>/member-<i>` (metrics.csv, summary.json, model.json, plots: a run of its
 * own, config seed for member 1 and seeds derived from it for the others), then measured together. `<out>` gets the
 * ensemble: summary.json (final = the ensemble's metrics; ensemble.members = each network alone; memberRuns), an
 * ensemble model.json (every member's delivered networks: its snapshots, or its final network) and report.html.
 *
 * The members run sequentially, each on all the kernel threads: in-process runs cannot overlap (the kernels are
 * synchronous on the calling thread), and one run per worker thread is left to a later change.
 * `--resume` continues member by member: a finished member (its model.json at the last step) is taken as it is,
 * an interrupted one resumes from its model.json, the others start.
 */
import { existsSync } from 'node:fs';
import { makeDirs } from '../util/make-dirs.js';
import { join, resolve } from 'node:path';
import { UsageError } from '../util/errors.js';
import type { TrainConfig } from '../config/schema.js';
import { toYaml } from '../config/load.js';
import { CLASSES, PIXELS } from '../data/cifar.js';
import type { Normalization } from '../data/normalization.js';
import type { DataCounts } from '../model/checkpoint.js';
import {
  checkResumable, checkSameRun, deliveredMembers, loadCheckpoint, MODEL_FILE, readClassNames, saveCheckpoint, serializeModel, type Checkpoint,
} from '../model/checkpoint.js';
import type { Member } from '../model/ensemble.js';
import { RunLedger, type MemberRun, type RunStatus, type Summary } from './ledger.js';
import { measureEnsemble, runTraining } from './train.js';
import { renderRunArtifacts } from '../report/run-artifacts.js';
import { writeFileAtomic } from '../util/atomic.js';
import { parseJsonBounded } from '../util/bounded-json.js';
import { readRegularText } from '../util/read-file.js';
import { deriveSeed } from '../util/rng.js';
import type { Splits } from '../data/splits.js';
import type { KernelBackend } from '../kernels/backend.js';
import { selectBackendOrExplain } from '../kernels/choose.js';
import type { RunPlan } from './plan.js';
import type { EvaluatedStep } from '../stages/types.js';
import { inOutDir, prepareData, resumeFolder, resumeStateOf, trimMetricsForResume, type TrainFolderOptions, type TrainFolderResult } from './train-into-folder.js';
import { percent } from '../util/format.js';

export const memberDir = (i: number) => `member-${i + 1}`;

/** Member i's training config (0-based): its own seed and name, one network. */
export function memberConfig(config: TrainConfig, i: number): TrainConfig {
  return {
    ...config,
    name: `${config.name}-${memberDir(i)}`,
    seed: i === 0 ? config.seed : deriveSeed(config.seed, `member:${i + 1}`),
    ensemble: { ...config.ensemble, members: 1 },
  };
}

type MemberState = { kind: 'fresh' } | { kind: 'resume'; cp: Checkpoint } | { kind: 'done'; cp: Checkpoint };

/** Where member i stands in the folder of a run to resume, checked against its config and the data. */
function memberState(dir: string, config: TrainConfig, counts: DataCounts, norm: Normalization): MemberState {
  const file = join(dir, MODEL_FILE);
  if (!existsSync(file)) return { kind: 'fresh' };
  const cp = loadCheckpoint(file);
  if (cp.step >= cp.totalSteps) {
    checkSameRun(cp, config, counts, norm, 'cannot take this member');
    return { kind: 'done', cp };
  }
  checkResumable(cp, config, counts, norm);
  return { kind: 'resume', cp };
}

function readSummary(dir: string): Partial<Summary> {
  try {
    return (parseJsonBounded(readRegularText(join(dir, 'summary.json'), { maxBytes: 64 * 2 ** 20, expected: 'a summary.json file' })) ?? {}) as Partial<Summary>;
  } catch {
    return {};
  }
}

/** Trains the members into `opts.out` and measures them together; null when the signal was aborted before anything was written. */
export async function trainMembersIntoFolder(config: TrainConfig, opts: TrainFolderOptions): Promise<TrainFolderResult | null> {
  const n = config.ensemble.members;
  if (opts.resume) {
    if (readSummary(resumeFolder(opts)).status === 'completed') throw new UsageError(`--out ${opts.out}: nothing to resume: the ensemble run already completed`);
  }
  // 1. Everything that can reject the input, before anything is written.
  const { dataDir, splits, plan, counts, normalization } = await prepareData(config, opts);
  const configs = Array.from({ length: n }, (_, i) => memberConfig(config, i));
  const states: MemberState[] = configs.map((c, i) => (opts.resume ? memberState(join(opts.out!, memberDir(i)), c, counts, normalization) : { kind: 'fresh' }));
  if (opts.signal.aborted) return null;
  const { backend, skipped } = await selectBackendOrExplain(config.kernels.backend, config.kernels.threads);

  // 2. The member runs, then the ensemble.
  return inOutDir(config, opts, backend, async (outDir) => ({
    summary: await membersInFolder(config, opts, outDir, { dataDir, splits, plan, counts, normalization, configs, states, backend, skipped }),
    outDir,
  }));
}

interface Prepared {
  dataDir: string;
  splits: Splits;
  plan: RunPlan;
  counts: DataCounts;
  normalization: Normalization;
  configs: TrainConfig[];
  states: MemberState[];
  backend: KernelBackend;
  skipped: { name: string }[];
}

async function membersInFolder(config: TrainConfig, opts: TrainFolderOptions, outDir: string, p: Prepared): Promise<Summary> {
  const { log } = opts;
  const n = config.ensemble.members;
  const { dataDir, splits, plan, counts, normalization, configs, states, backend, skipped } = p;
  writeFileAtomic(join(outDir, 'config.yaml'), toYaml(config));
  log(`cifar-mlp: ${config.name}: ensemble of ${n} independently seeded networks, trained one after the other; data ${dataDir} ` +
    `(train ${splits.train.count}, val ${splits.val.count}, test ${splits.test.count}); backend ${backend.name} ` +
    `(${backend.threads + 1} thread${backend.threads ? 's' : ''})` + (skipped.length ? `; not loaded: ${skipped.map((s) => s.name).join(', ')}` : '') +
    `; out ${outDir}`);
  const stepsBefore = states.reduce((sum, st) => sum + (st.kind === 'fresh' ? 0 : st.cp.step), 0);
  const ledger = new RunLedger(outDir, config, { ...plan, totalSteps: n * plan.totalSteps }, backend, stepsBefore);
  ledger.memberRuns = [];
  ledger.write();
  const saveBase = {
    totalSteps: plan.totalSteps, normalization, data: { ...counts, dir: resolve(dataDir) }, classes: readClassNames(dataDir) ?? undefined,
  };
  const networks: Member[] = [];
  const shape = { d: PIXELS, m: config.model.hidden, k: CLASSES };
  let status: RunStatus = 'completed';
  try {
    for (let i = 0; i < n; i++) {
      const dir = join(outDir, memberDir(i)), mc = configs[i], st = states[i];
      const named = (ms: readonly Member[]) => ms.map((m) => ({ ...m, name: `${memberDir(i)}/${m.name}` }));
      if (st.kind === 'done') {
        const s = readSummary(dir);
        networks.push(...named(deliveredMembers(st.cp)));
        ledger.memberRuns.push({ dir: memberDir(i), seed: mc.seed, status: 'completed', steps: st.cp.step, seconds: s.seconds ?? NaN });
        log(`cifar-mlp: ${memberDir(i)} already completed; taken as it is`);
        continue;
      }
      makeDirs(dir);
      if (st.kind === 'resume') trimMetricsForResume(join(dir, 'metrics.csv'), st.cp.step);
      const progress = opts.progress?.(`${config.name} ${memberDir(i)}/${n}`);
      const modelPath = join(dir, MODEL_FILE);
      let result;
      try {
        result = await runTraining({
          config: mc, splits, backend, outDir: dir, signal: opts.signal, normalization,
          onCheckpoint: (net, step, _norm, members) => saveCheckpoint(modelPath, net, { ...saveBase, config: mc, step, members }),
          ...(progress ? { onStep: (s: EvaluatedStep, p: RunPlan) => progress.update(s, p) } : {}),
          ...(st.kind === 'resume' ? { resume: resumeStateOf(st.cp) } : {}),
        });
      } finally {
        progress?.stop();
      }
      const s = result.summary;
      const run: MemberRun = { dir: memberDir(i), seed: mc.seed, status: s.status, steps: s.steps, seconds: s.seconds };
      ledger.memberRuns.push(run);
      ledger.stepsDone += s.steps - (st.kind === 'resume' ? st.cp.step : 0);
      if (s.samplesPerSecond > 0) ledger.trainSeconds += ((s.steps - (st.kind === 'resume' ? st.cp.step : 0)) * mc.train.batchSize) / s.samplesPerSecond;
      if (s.status === 'completed') {
        networks.push(...named(result.members.length ? result.members : [{ name: 'final', step: s.steps, params: await result.network.snapshot() }]));
      }
      backend.releaseAll(); // the member's matrices: its delivered networks are kept on the host
      await renderRunArtifacts(dir, log);
      log(`cifar-mlp: ${memberDir(i)} ${s.status}` + (s.final?.test ? `: test accuracy ${percent(s.final.test.accuracy)}` : s.error ? `: ${s.error}` : ''));
      if (s.status !== 'completed') {
        status = s.status;
        if (s.error) ledger.error = `${memberDir(i)}: ${s.error}`;
        break;
      }
    }
    if (status === 'completed') {
      const measured = await measureEnsemble(backend, shape, networks, config, splits, normalization);
      ledger.final = measured.final;
      ledger.ensemble = measured.ensemble;
      writeFileAtomic(join(outDir, MODEL_FILE), await serializeModel(null, { ...saveBase, config, step: plan.totalSteps, members: networks }));
    }
  } catch (e) {
    status = 'failed';
    ledger.error = (e as Error).message;
  } finally {
    await backend.dispose();
  }
  ledger.status = status;
  const summary = ledger.close();
  await renderRunArtifacts(outDir, log);
  return summary;
}
