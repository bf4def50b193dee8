/** queue.json of a search run on the queue: the search's id there, so that a resumed search finds its jobs again. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeJsonAtomic } from '../util/atomic.js';
import { parseJsonBounded } from '../util/bounded-json.js';
import { readRegularText } from '../util/read-file.js';

export const QUEUE_FILE = 'queue.json';

const queueFileSchema = z.object({ id: z.string() });

export function writeQueueFile(dir: string, id: string): void {
  writeJsonAtomic(join(dir, QUEUE_FILE), { id });
}

/** The queue id stored in `dir` (absent: undefined; unreadable or malformed: null). */
export function readQueueFile(dir: string): string | null | undefined {
  const path = join(dir, QUEUE_FILE);
  if (!existsSync(path)) return undefined;
  try {
    const parsed = queueFileSchema.safeParse(parseJsonBounded(readRegularText(path, { maxBytes: 4096, expected: 'a queue.json file' })));
    return parsed.success ? parsed.data.id : null;
  } catch {
    return null;
  }
}
