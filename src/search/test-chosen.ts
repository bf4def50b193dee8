/** The chosen trial's test metrics, from the model.json it left: the only evaluation of a search on the test split. */
import type { Dataset } from '../data/cifar.js';
import type { BackendName } from '../kernels/names.js';
import { selectTrainingBackend } from '../model/speed-probe.js';
import { loadCheckpoint, networkFromCheckpoint } from '../formats/model-file.js';
import { Evaluator } from '../model/evaluator.js';
import type { SplitMetrics } from '../model/split-metrics.js';

/** A `testChosen` for runSearch: loads `<trialDir>/model.json` and evaluates it on `test` (cost with its lambda). */
export function testFromModel(test: Dataset, backendName: BackendName, threads: number): (trialDir: string) => Promise<SplitMetrics> {
  return async (trialDir) => {
    const cp = loadCheckpoint(trialDir);
    const { backend } = await selectTrainingBackend(backendName, threads);
    try {
      const net = await networkFromCheckpoint(cp, backend);
      return await new Evaluator(net, cp.normalization).evaluate(test, cp.config.train.lambda);
    } finally {
      await Promise.resolve(backend.dispose()).catch(() => {});
    }
  };
}
