/** The cifar-mlp command line. */
import { Command, CommanderError, Option } from 'commander';
import { loadConfig, readYamlFile } from '../config/load.js';
import { BACKEND_NAMES } from '../kernels/names.js';
import { UsageError } from '../config/errors.js';
import { gradcheckCommand } from './commands/gradcheck.js';
import { registerModelCommands } from './commands/model.js';
import { searchCommand } from './commands/search.js';
import { trainCommand } from './commands/train.js';
import { renderRunArtifacts } from '../report/run-artifacts.js';
import { existsSync } from 'node:fs';
import { runForcedExitHooks } from '../util/shutdown.js';

const collect = (v: string, prev: string[]) => [...prev, v];

const backendOption = () =>
  new Option('--backend <name>', 'kernel backend (same as --set kernels.backend=…, base.kernels.backend for a search)').choices([...BACKEND_NAMES]);

/** The options of the commands that run a config (run, search). */
function runOptions(command: Command): Command {
  return command
    .option('--data <dir>', 'CIFAR-10 folder (else config data.dir, $CIFAR10_DIR, ./data/cifar-10-batches-bin, else download)')
    .option('--out <dir>', 'output folder (default runs/<name>, or runs/<name>-<time> when taken)')
    .option('--set <key=value>', 'override a config field, e.g. --set train.lambda=0.001 (repeatable)', collect, [])
    .option('--force', 'overwrite a non-empty --out folder')
    .option('--resume', 'continue an interrupted run or search in --out')
    .addOption(backendOption());
}

/** --backend as a --set: a search config keeps its training settings, kernels included, under `base`. */
function backendSet(configPath: string, backend: string | undefined): string[] {
  if (!backend) return [];
  return [`${readYamlFile(configPath).kind === 'search' ? 'base.' : ''}kernels.backend=${backend}`];
}

function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  let count = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      process.stderr.write(`\ncifar-mlp: ${sig} received: stopping after the current step and saving results (again to quit at once)\n`);
      controller.abort();
    } else {
      process.stderr.write(`\ncifar-mlp: ${sig} received again: quitting now (the output folder stays resumable)\n`);
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
    .description('Train a two-layer network on CIFAR-10 from scratch: gradient check, sanity check, cyclical learning rates, lambda search, final training.')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `cifar-mlp: ${s}` : s) });

  runOptions(program
    .command('run')
    .description('Run the experiment a config file describes (kind: train, gradcheck or search).')
    .argument('<config>', 'YAML config file, e.g. config/cycle1.yaml'))
    .action(async (configPath: string, o) => {
      const sets: string[] = [...o.set, ...backendSet(configPath, o.backend)];
      const config = loadConfig(configPath, sets);
      const opts = { data: o.data, out: o.out, force: o.force, resume: o.resume, configPath, signal: interruptSignal() };
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
    .description('Run a lambda search config (same as run; with --resume, continue an interrupted search in --out).')
    .argument('<config>', 'YAML search config, e.g. config/search-coarse.yaml'))
    .option('--queue <url>', 'run the trials on `cifar-mlp worker` processes through Redis: redis://[user:password@]host:port[/db] or rediss:// (TLS)')
    .action(async (configPath: string, o) => {
      const config = loadConfig(configPath, [...o.set, ...backendSet(configPath, o.backend)]);
      if (config.kind !== 'search') throw new UsageError(`${configPath}: kind: search expects a search config (got ${JSON.stringify(config.kind)})`);
      exitCode = await searchCommand(config, { data: o.data, out: o.out, force: o.force, resume: o.resume, configPath, signal: interruptSignal(), queue: o.queue });
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
    .action(async (o) => {
      const { workerCommand } = await import('./commands/worker.js'); // bullmq loads only for this command
      exitCode = await workerCommand(o);
    });

  registerModelCommands(program, (code) => { exitCode = code; });

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
    .description('Re-render the plots and report.html of a run folder from its metrics.csv (also for an interrupted run).')
    .argument('<out-dir>', 'a run folder holding metrics.csv')
    .action(async (dir: string) => {
      if (!existsSync(`${dir}/metrics.csv`)) throw new UsageError(`${dir}: no metrics.csv in this folder`);
      let failed = false;
      await renderRunArtifacts(dir, (l) => { failed = true; process.stderr.write(`${l}\n`); });
      if (failed) exitCode = 1;
      else process.stderr.write(`cifar-mlp: plots and report.html written to ${dir}\n`);
    });

  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof UsageError) {
      process.stderr.write(`${e.message.split('\n').map((l) => `cifar-mlp: ${l}`).join('\n')}\n`);
      return e.exitCode;
    }
    process.stderr.write(`cifar-mlp: error: ${(e as Error).message}\n`);
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
  process.stderr.write(`cifar-mlp: ${code === 1 ? 'error: ' : ''}${err.message.split('\n')[0]}\n`);
  if (process.env.CIFAR_MLP_DEBUG) process.stderr.write(`${err.stack}\n`);
  process.exit(code);
};
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);

main(process.argv).then((code) => {
  process.exitCode = code;
  // Worker threads of a kernel backend must not keep a finished command alive.
  setTimeout(() => process.exit(code), 200).unref();
});
