/**
 * A training run with ensemble.members = N > 1: N independently seeded networks trained one after the other, each a
 * complete run in `<out>/member-<i>` (metrics.csv, summary.json, model.json, plots: a run of its own, config seed for
 * member 1 and seeds derived from it for the others), then measured together. `<out>` gets the ensemble:
 * summary.json (final = the ensemble's metrics; ensemble.members = each network alone; memberRuns), an ensemble
 * model.json (every member's delivered networks: its snapshots, or its final network) and report.html.
 *
 * The members run sequentially, each on all the kernel threads (in-process runs cannot overlap: the kernels are
 * synchronous on the calling thread). `--resume` continues member by member: a finished member (its model.json at
 * the last step) is taken as it is, an interrupted one resumes from its model.json, the others start.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainConfig } from '../config/schema.js';
import { configuredShape } from '../model/shape.js';
import type { Normalization } from '../data/normalization.js';
import { deliveredMembers, loadCheckpoint, MODEL_FILE, saveEnsembleModel, type Checkpoint, type DataCounts } from '../formats/model-file.js';
import { readRunSummary, type MemberRun, type RunStatus, type Summary } from '../formats/run-summary.js';
import { describeSelection } from '../kernels/describe-selection.js';
import type { Selection } from '../kernels/select.js';
import type { Member } from '../model/ensemble.js';
import { cycleEndNote } from '../pipeline/plan.js';
import { RunLedger } from '../pipeline/ledger.js';
import { modelFileOptions, trainNetwork } from '../pipeline/network-run.js';
import { checkResumable, checkSameRun, resumeStateOf } from '../pipeline/resume.js';
import { commentedYaml, measureEnsemble } from '../pipeline/train.js';
import { renderRunArtifacts } from '../report/run-artifacts.js';
import { writeFileAtomic } from '../util/atomic.js';
import { UsageError } from '../util/errors.js';
import { percent } from '../util/format.js';
import { makeDirs } from '../util/make-dirs.js';
import { deriveSeed } from '../util/rng.js';
import type { FolderStrategy } from './folder-run.js';
import { chooseBackend, prepareData, type PreparedData } from './prepared-data.js';
import { resumeFolder, resumeMetrics } from './resume-folder.js';
import type { TrainFolderOptions } from './train-options.js';

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

const summaryOf = (dir: string) => {
  try {
    return readRunSummary(dir);
  } catch {
    return null;
  }
};

interface Prepared extends PreparedData {
  configs: TrainConfig[];
  states: MemberState[];
  selection: Selection;
}

export function ensembleRun(config: TrainConfig, opts: TrainFolderOptions): FolderStrategy<Prepared, Summary> {
  const n = config.ensemble.members;
  return {
    name: config.name,
    async prepare() {
      if (opts.resume && summaryOf(resumeFolder(opts))?.status === 'completed') {
        throw new UsageError(`--out ${opts.out}: nothing to resume: the ensemble run already completed`);
      }
      const data = await prepareData(config, opts);
      const configs = Array.from({ length: n }, (_, i) => memberConfig(config, i));
      const states: MemberState[] = configs.map((c, i) => (opts.resume ? memberState(join(opts.out!, memberDir(i)), c, data.counts, data.normalization) : { kind: 'fresh' }));
      return { ...data, configs, states, selection: await chooseBackend(config) };
    },
    run: (p, dir) => trainMembers(config, opts, dir, p),
    render: (dir) => renderRunArtifacts(dir, opts.log),
    release: (p) => p.selection.backend.dispose(),
  };
}

async function trainMembers(config: TrainConfig, opts: TrainFolderOptions, outDir: string, p: Prepared): Promise<Summary> {
  const { log } = opts;
  const n = config.ensemble.members;
  const { dataDir, splits, plan, configs, states, selection } = p;
  const { backend } = selection;
  writeFileAtomic(join(outDir, 'config.yaml'), commentedYaml(config, opts.configComment));
  log(`cifar-mlp: ${config.name}: ensemble of ${n} independently seeded networks, trained one after the other; data ${dataDir} ` +
    `(train ${splits.train.count}, val ${splits.val.count}, test ${splits.test.count}); ${describeSelection(selection)}; out ${outDir}`);
  const stepsBefore = states.reduce((sum, st) => sum + (st.kind === 'fresh' ? 0 : st.cp.step), 0);
  const ledger = new RunLedger(outDir, config, { ...plan, totalSteps: n * plan.totalSteps }, backend, stepsBefore, undefined,
    stepsBefore > 0 ? readRunSummary(outDir)?.seconds ?? 0 : 0);
  ledger.memberRuns = [];
  ledger.cycleEndNote = cycleEndNote(config, plan);
  ledger.dataCounts = { train: splits.train.count, val: splits.val.count, test: splits.test.count };
  if (ledger.cycleEndNote) log(`cifar-mlp: ${config.name}: note: each member: ${ledger.cycleEndNote}`);
  ledger.write();
  const networks: Member[] = [];
  let status: RunStatus = 'completed';
  try {
    for (let i = 0; i < n; i++) {
      const dir = join(outDir, memberDir(i)), mc = configs[i], st = states[i];
      const named = (ms: readonly Member[]) => ms.map((m) => ({ ...m, name: `${memberDir(i)}/${m.name}` }));
      if (st.kind === 'done') {
        networks.push(...named(deliveredMembers(st.cp)));
        ledger.memberRuns.push({ dir: memberDir(i), seed: mc.seed, status: 'completed', steps: st.cp.step, seconds: summaryOf(dir)?.seconds ?? NaN });
        log(`cifar-mlp: ${memberDir(i)} already completed; taken as it is`);
        continue;
      }
      makeDirs(dir);
      const secondsBefore = st.kind === 'resume' ? await resumeMetrics(dir, st.cp.step) : 0;
      const result = await trainNetwork({
        config: mc, splits, normalization: p.normalization, dataDir, backend, dir, signal: opts.signal, model: 'checkpoints',
        ...(opts.progress ? { progress: opts.progress(`${config.name} ${memberDir(i)}/${n}`) } : {}),
        ...(st.kind === 'resume' ? { resume: { ...resumeStateOf(st.cp), secondsBefore } } : {}),
      });
      const s = result.summary;
      const run: MemberRun = { dir: memberDir(i), seed: mc.seed, status: s.status, steps: s.steps, seconds: s.seconds };
      ledger.memberRuns.push(run);
      const trained = s.steps - (st.kind === 'resume' ? st.cp.step : 0);
      ledger.stepsDone += trained;
      if (s.samplesPerSecond > 0) ledger.trainSeconds += (trained * mc.train.batchSize) / s.samplesPerSecond;
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
      const measured = await measureEnsemble(backend, configuredShape(config.model), networks, config, splits, p.normalization);
      ledger.final = measured.final;
      ledger.ensemble = measured.ensemble;
      await saveEnsembleModel(join(outDir, MODEL_FILE), { ...modelFileOptions({ config, splits, normalization: p.normalization, dataDir }, plan.totalSteps), step: plan.totalSteps, members: networks });
    }
  } catch (e) {
    status = 'failed';
    ledger.error = (e as Error).message;
  }
  ledger.status = status;
  return ledger.close();
}
