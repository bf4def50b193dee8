/** `cifar-mlp run|search <search config>`. PLACEHOLDER: being written (issue 4). */
import { UsageError } from '../../config/errors.js';
import type { SearchConfig } from '../../config/schema.js';
import type { RunOptions } from './train.js';

export async function searchCommand(_config: SearchConfig, _opts: RunOptions): Promise<number> {
  throw new UsageError('search: not implemented yet');
}
