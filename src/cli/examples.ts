/** The "Examples:" section of each command's --help (test/cli-help.test.ts checks every one is valid). */
import type { Command } from 'commander';

export const EXAMPLES: Record<string, string[]> = {
  run: [
    'cifar-mlp run config/cycle1.yaml',
    'cifar-mlp run config/cycle1.yaml --set train.lambda=0.001 --set schedule.ns=800 --out runs/cycle1-l3',
    'cifar-mlp run config/sanity.yaml --data ~/cifar-10-batches-bin',
    'cifar-mlp run config/gradcheck.yaml --set check.samples=10',
    'cifar-mlp run config/final.yaml --from runs/search-fine',
    'cifar-mlp run config/final.yaml --set schedule.epochs=null --set schedule.cycles=10',
    'cifar-mlp run --resume --out runs/cycle1',
  ],
  search: [
    'cifar-mlp search config/search-coarse.yaml',
    'cifar-mlp search config/search-coarse.yaml --set trials=4 --set base.schedule.cycles=1 --out runs/quick',
    'cifar-mlp search config/search-fine.yaml --set space.from.dir=runs/search-coarse',
    'cifar-mlp search config/search-asha.yaml --queue redis://localhost:6379',
    'cifar-mlp search --resume --out runs/search-coarse',
  ],
  worker: [
    'cifar-mlp worker --queue redis://localhost:6379 --data ~/cifar-10-batches-bin',
    'cifar-mlp worker --queue rediss://search:secret@10.0.0.5:6380/1 --concurrency 2 --name box-2',
  ],
  'lr-find': [
    'cifar-mlp lr-find config/bonus.yaml',
    'cifar-mlp lr-find config/cycle1.yaml --set lrFind.steps=300 --set lrFind.etaMax=1 --out runs/cycle1-lr-find',
  ],
  ensemble: [
    'cifar-mlp ensemble runs/seed1 runs/seed2 runs/seed3 --out runs/ensemble.json',
    'cifar-mlp ensemble runs/a/model.json runs/b/model.json --out runs/ab.json --name ab',
  ],
  plot: ['cifar-mlp plot runs/cycle1'],
  evaluate: ['cifar-mlp evaluate runs/final', 'cifar-mlp evaluate runs/final/model.json --out runs/final-eval'],
  predict: ['cifar-mlp predict runs/final cat.png photo.jpg', 'cifar-mlp predict runs/final ~/cifar-10-batches-bin/test_batch.bin --json'],
  dashboard: [
    'cifar-mlp dashboard',
    'cifar-mlp dashboard runs/search-asha runs/cycle1 --port 8080',
    'cifar-mlp dashboard runs --host 0.0.0.0',
    'cifar-mlp dashboard runs/search-asha --export search-asha.html',
  ],
  'config-doc': ['cifar-mlp config-doc', 'cifar-mlp config-doc --write README.md'],
};

/** Appends the command's examples to its --help. */
export function addExamples(command: Command): void {
  const lines = EXAMPLES[command.name()];
  if (lines?.length) command.addHelpText('after', `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
}
