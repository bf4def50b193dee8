/** The cifar-mlp command line. */
import { Command, CommanderError, Option } from 'commander';
import { loadConfig, readYamlFile } from '../config/load.js';
import { BACKEND_NAMES } from '../kernels/names.js';
import { ConfigError, UsageError } from '../util/errors.js';
import { gradcheckCommand } from './commands/gradcheck.js';
import { registerModelCommands } from './commands/model.js';
import { searchCommand } from './commands/search.js';
import { trainCommand } from './commands/train.js';
import { chosenFields, chosenFieldsComment, type ChosenFields } from '../formats/search-summary.js';
import { percent } from '../util/format.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runForcedExitHooks } from '../util/shutdown.js';
import { notice } from '../util/notice.js';
import { addExamples } from './examples.js';
import { log } from './log.js';
import { handleBrokenPipes } from './broken-pipe.js';

const collect = (v: string, prev: string[]) => [...prev, v];

/** Commander puts its suggestion on a line of its own ("(Did you mean run?)"): one line per error, as for config errors. */
const oneLine = (s: string) => s.replace(/\n\(Did you mean (.+?)\?\)/, '; did you mean $1?');

/** The commands that run a config. Their help differs only where a search config nests its training fields under `base.`. */
type RunKind = 'run' | 'search';

const BACKEND_HELP: Record<RunKind | 'lr-find', string> = {
  run: 'kernel backend (same as --set kernels.backend=<name>; base.kernels.backend in a search config)',
  search: 'kernel backend of the trials (same as --set base.kernels.backend=<name>)',
  'lr-find': 'kernel backend (same as --set kernels.backend=<name>)',
};

const backendOption = (kind: RunKind | 'lr-find') => new Option('--backend <name>', BACKEND_HELP[kind]).choices([...BACKEND_NAMES]);

const SET_HELP: Record<RunKind, string> = {
  run: 'override a config field, e.g. --set train.lambda=0.001 (repeatable; in a search config the training fields are under base.)',
  search: 'override a config field, e.g. --set trials=4 or --set base.schedule.ns=500 (repeatable; the training fields are under base.)',
};

/** The options of the commands that run a config (run, search). */
function runOptions(command: Command, kind: RunKind): Command {
  return command
    .option('--data <dir>', 'CIFAR-10 folder (else config data.dir, $CIFAR10_DIR, ./data/cifar-10-batches-bin, else download)')
    .option('--out <dir>', 'output folder (default runs/<name>, or runs/<name>-<time> when taken)')
    .option('--set <key=value>', SET_HELP[kind], collect, [])
    .option('--force', 'overwrite a non-empty --out folder')
    .option('--resume', `continue the interrupted ${kind === 'run' ? 'run' : 'search'} in --out (without <config>: with the config.yaml there)`)
    .addOption(backendOption(kind))
    .addOption(new Option('--switch-backend', 'with --resume: continue on another backend than the one the run trained on (refused otherwise: results change from there on; recorded in summary.json)').hideHelp(kind !== 'run'));
}

/**
 * The config file of run/search: the argument, else, with --resume, the config.yaml of the --out folder (a given
 * config or --set that differs from the folder's is refused later by the resume checks, naming the field).
 */
function configFileOf(kind: RunKind, configPath: string | undefined, o: { resume?: boolean; out?: string }): string {
  if (configPath) return configPath;
  const example = kind === 'run' ? 'config/cycle1.yaml' : 'config/search-coarse.yaml';
  if (!o.resume) throw new UsageError(`${kind}: missing the config argument (e.g. cifar-mlp ${kind} ${example}); only --resume --out DIR may leave it out`);
  if (!o.out) throw new UsageError(`${kind} --resume without a config needs --out DIR: the folder to continue, whose config.yaml is used`);
  if (!existsSync(o.out)) throw new UsageError(`--out ${o.out}: no such folder to resume`);
  const path = join(o.out, 'config.yaml');
  if (!existsSync(path)) throw new UsageError(`--resume: ${path} does not exist; give the config file as the argument`);
  return path;
}

/** --backend as a --set: a search config keeps its training settings, kernels included, under `base`. */
function backendSet(configPath: string, backend: string | undefined): string[] {
  if (!backend) return [];
  return [`${readYamlFile(configPath).kind === 'search' ? 'base.' : ''}kernels.backend=${backend}`];
}

/** --from: the chosen trial's searched fields (as --set overrides) for a training config, told on stderr. */
function fromSearch(configPath: string, dir: string): ChosenFields {
  const kind = readYamlFile(configPath).kind ?? 'train';
  if (kind !== 'train') throw new UsageError(`--from ${dir}: takes a training config (kind: train), not ${configPath} (kind: ${String(kind)})`);
  const chosen = chosenFields(dir);
  process.stderr.write(`cifar-mlp: --from ${dir}: trial ${chosen.trial} (val ${percent(chosen.valAccuracy)}): ${chosen.sets.join(', ')} (recorded in the run's config.yaml)\n`);
  return chosen;
}

function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  let count = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      notice(`cifar-mlp: ${sig} received: stopping after the current step and saving results (again to quit at once)`);
      controller.abort();
    } else {
      notice(`cifar-mlp: ${sig} received again: quitting now (the output folder stays resumable)`);
      runForcedExitHooks();
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller.signal;
}

async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = new Command('cifar-mlp')
    .description('Train a two-layer network on CIFAR-10 from scratch: gradient check, sanity check, cyclical learning rates, searches of lambda and other settings, final training.')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeErr: (s) => (s.startsWith('error:') ? log(`cifar-mlp: ${oneLine(s).trimEnd()}`) : process.stderr.write(s)) });

  runOptions(program
    .command('run')
    .description('Run the experiment a config file describes (kind: train, gradcheck or search).')
    .argument('[config]', 'YAML config file, e.g. config/cycle1.yaml (optional with --resume: the --out folder\'s config.yaml)'), 'run')
    .option('--from <search-dir>', 'a training config only: take the searched fields of the trial a finished search chose (e.g. train.lambda), before --set')
    .action(async (given: string | undefined, o) => {
      const configPath = configFileOf('run', given, o);
      const chosen = o.from === undefined ? null : fromSearch(configPath, o.from);
      const sets: string[] = [...(chosen?.sets ?? []), ...o.set, ...backendSet(configPath, o.backend)];
      const config = loadConfig(configPath, sets);
      const opts = {
        data: o.data, out: o.out, force: o.force, resume: o.resume, switchBackend: o.switchBackend, configPath, signal: interruptSignal(),
        ...(chosen ? { configComment: chosenFieldsComment(chosen) } : {}),
      };
      switch (config.kind) {
        case 'train':
          exitCode = await trainCommand(config, opts);
          break;
        case 'gradcheck':
          exitCode = await gradcheckCommand(config, opts);
          break;
        case 'search':
          exitCode = await searchCommand(config, opts);
          break;
      }
    });

  runOptions(program
    .command('search')
    .description('Run a search config: trials of a training config over a space of its fields (lambda, the hidden width, …), ranked by validation accuracy (same as run; with --resume, continue an interrupted search in --out).')
    .argument('[config]', 'YAML search config, e.g. config/search-coarse.yaml (optional with --resume: the --out folder\'s config.yaml)'), 'search')
    .option('--queue <url>', 'run the trials on `cifar-mlp worker` processes through Redis: redis://[user:password@]host:port[/db] or rediss:// (TLS)')
    .option('--artifacts <dir>', 'with --queue: a folder shared with the workers (e.g. on NFS) through which the trials\' files travel instead of through Redis')
    .action(async (given: string | undefined, o) => {
      const configPath = configFileOf('search', given, o);
      const config = loadConfig(configPath, [...o.set, ...backendSet(configPath, o.backend)]);
      if (config.kind !== 'search') throw new UsageError(`${configPath}: kind: search expects a search config (got ${JSON.stringify(config.kind)})`);
      exitCode = await searchCommand(config, { data: o.data, out: o.out, force: o.force, resume: o.resume, configPath, signal: interruptSignal(), queue: o.queue, artifacts: o.artifacts });
    });

  program
    .command('worker')
    .description('Run search trials from a Redis queue (start any number, on any machines; stop with Ctrl-C: running trials go back to the queue).')
    .requiredOption('--queue <url>', 'redis://[user:password@]host:port[/db] or rediss:// (TLS), as given to search --queue')
    .option('--data <dir>', 'CIFAR-10 folder of this machine (else $CIFAR10_DIR, ./data/cifar-10-batches-bin; never downloaded)')
    .option('--concurrency <n>', 'trials at once', '1')
    .option('--work <dir>', 'parent of this worker\'s own work folder (default: the system temporary folder)')
    .option('--name <name>', 'how the coordinator shows this worker (default host:pid)')
    .option('--lock-seconds <s>', 'a trial whose worker stops renewing its lock for this long runs again on another worker', '30')
    .option('--rung-timeout <s>', 'longest wait for the coordinator\'s decision at a rung; then the trial continues', '600')
    .option('--artifacts <dir>', 'the folder shared with coordinators given --artifacts: the trials\' files go there instead of through Redis')
    .action(async (o) => {
      const { workerCommand } = await import('./commands/worker.js'); // bullmq loads only for this command
      exitCode = await workerCommand(o);
    });

  program
    .command('lr-find')
    .description('Learning-rate range test of a training config: eta grows exponentially over one short run (lrFind.*); plots loss against eta and suggests schedule.etaMin / etaMax.')
    .argument('<config>', 'YAML training config, e.g. config/bonus.yaml')
    .option('--data <dir>', 'CIFAR-10 folder (else config data.dir, $CIFAR10_DIR, ./data/cifar-10-batches-bin, else download)')
    .option('--out <dir>', 'output folder (default runs/<name>-lr-find, or with a time suffix when taken)')
    .option('--set <key=value>', 'override a config field, e.g. --set lrFind.steps=300 (repeatable)', collect, [])
    .option('--force', 'overwrite a non-empty --out folder')
    .addOption(backendOption('lr-find'))
    .action(async (configPath: string, o) => {
      const config = loadConfig(configPath, [...o.set, ...backendSet(configPath, o.backend)]);
      if (config.kind !== 'train') throw new UsageError(`${configPath}: lr-find expects a training config (kind: train; got ${JSON.stringify(config.kind)})`);
      const { lrFindCommand } = await import('./commands/lr-find.js');
      exitCode = await lrFindCommand(config, { data: o.data, out: o.out, force: o.force, configPath, signal: interruptSignal() });
    });

  registerModelCommands(program, (code) => { exitCode = code; });

  program
    .command('ensemble')
    .description('One ensemble model file (softmax average) from the model files or run folders of separately trained networks of the same shape and data, e.g. runs with other seeds trained side by side.')
    .argument('<models...>', 'model.json files or run folders (two or more)')
    .requiredOption('--out <file>', 'the ensemble model file to write, e.g. runs/ensemble.json')
    .option('--name <name>', 'its name (default: the first model\'s name + "-ensemble")')
    .action(async (models: string[], o) => {
      const { ensembleCommand } = await import('./commands/ensemble.js');
      exitCode = await ensembleCommand(models, o);
    });

  program
    .command('dashboard')
    .description('A live web view of the runs and searches under the folders (default ./runs, found recursively): tables, curves, trials, rungs and queue workers, updated as files change; it only reads. With --export, one run\'s or search\'s page as a self-contained HTML file.')
    .argument('[dirs...]', 'folders of runs and searches (default: runs)')
    .option('--port <n>', 'port to listen on (0: any free one)', '8765')
    .option('--host <address>', 'address to listen on; any other than the loopback requires a token', '127.0.0.1')
    .option('--token <token>', 'the token a browser must present (default: none on the loopback, else one generated and printed)')
    .option('--queue <url>', 'Redis of queue searches (as given to search --queue): shows their workers and flags a silent one (read-only)')
    .option('--export <file>', 'write the page of the one run or search folder given as a self-contained HTML file (data inlined, opens offline), then exit')
    .action(async (dirs: string[], o) => {
      const { dashboardCommand } = await import('./commands/dashboard.js');
      exitCode = await dashboardCommand(dirs, o);
    });

  program
    .command('config-doc')
    .description('Print the config reference (every field, its type, default and meaning), generated from the schema.')
    .option('--write <markdown>', 'replace the reference between the config-reference markers of this file instead')
    .action(async (o) => {
      const { configReference, replaceReferenceSection } = await import('../config/doc.js');
      if (!o.write) return void process.stdout.write(`${configReference()}\n`);
      replaceReferenceSection(o.write);
      process.stderr.write(`cifar-mlp: config reference written into ${o.write}\n`);
    });

  program
    .command('plot')
    .description('Re-render the plots and report.html of a run folder from its metrics.csv (also for an interrupted or a running run), or of a search folder (the search\'s and every trial\'s). It only reads the folder (no lock) and writes every picture atomically.')
    .argument('<out-dir>', 'a run folder holding metrics.csv, a search folder, or one of its trials/<id> folders')
    .action(async (dir: string) => {
      const { plotCommand } = await import('./commands/plot.js');
      exitCode = await plotCommand(dir);
    });

  for (const command of program.commands) addExamples(command);

  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof UsageError) {
      for (const line of e instanceof ConfigError ? e.problems : [e.message]) log(`cifar-mlp: ${line}`); // one line per problem
      return e.exitCode;
    }
    log(`cifar-mlp: error: ${(e as Error).message}`);
    if (process.env.CIFAR_MLP_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  }
  return exitCode;
}

// Last line of defence: an error that escapes every handler (a stream or worker event…) still ends the command
// with one line and exit code 1, never a stack trace (set CIFAR_MLP_DEBUG=1 to see it).
const fatal = (e: unknown) => {
  const err = e instanceof Error ? e : new Error(String(e));
  const code = err instanceof UsageError ? err.exitCode : 1;
  log(`cifar-mlp: ${code === 1 ? 'error: ' : ''}${err.message.split('\n')[0]}`);
  if (process.env.CIFAR_MLP_DEBUG) process.stderr.write(`${err.stack}\n`);
  process.exit(code);
};
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);

handleBrokenPipes();
main(process.argv).then((code) => {
  process.exitCode = code;
  // Worker threads of a kernel backend must not keep a finished command alive.
  setTimeout(() => process.exit(code), 200).unref();
});
