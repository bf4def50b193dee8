/** `cifar-mlp run <gradcheck config>`. PLACEHOLDER: being written (issue 3). */
import { UsageError } from '../../config/errors.js';
import type { GradcheckConfig } from '../../config/schema.js';
import type { RunOptions } from './train.js';

export async function gradcheckCommand(_config: GradcheckConfig, _opts: RunOptions): Promise<number> {
  throw new UsageError('gradcheck: not implemented yet');
}
