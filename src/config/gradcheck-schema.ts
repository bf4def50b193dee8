/** The gradient-check config (kind: gradcheck). PLACEHOLDER: being written (issue 3). */
import { z } from 'zod';

export const gradcheckSchema = z.strictObject({
  kind: z.literal('gradcheck'),
});

export type GradcheckConfig = z.output<typeof gradcheckSchema>;
