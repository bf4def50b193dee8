/** The names of CIFAR-10's ten classes: the data folder's batches.meta.txt, else the dataset's documented names. */
import { join } from 'node:path';
import { readRegularText } from '../util/read-file.js';
import { hasControlCharacters } from '../util/terminal-text.js';
import { CLASSES } from './cifar.js';

export const DEFAULT_CLASS_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** A class name that may be shown as it is: plain text (no control characters) of at most 100 characters. */
export const isClassName = (name: unknown): name is string => typeof name === 'string' && name.length > 0 && name.length <= 100 && !hasControlCharacters(name);

/** Class names from a batches.meta.txt (10 non-empty lines of plain text), else null. */
export function readClassNames(dataDir: string): string[] | null {
  try {
    const names = readRegularText(join(dataDir, 'batches.meta.txt'), { maxBytes: 64 * 1024, expected: 'a class name list' }).split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    return names.length === CLASSES && names.every(isClassName) ? names : null;
  } catch {
    return null;
  }
}
