/** The lambda-search config (kind: search). PLACEHOLDER: being written (issue 4). */
import { z } from 'zod';

export const searchSchema = z.strictObject({
  kind: z.literal('search'),
});

export type SearchConfig = z.output<typeof searchSchema>;
