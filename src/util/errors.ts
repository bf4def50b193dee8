/** Errors that end a command with a one-line message and exit code 2 (bad input), never a stack trace. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(message: string, readonly exitCode = 2) {
    super(message);
  }
}

/** A config that failed validation: one line per problem, naming the file, field path and bad value. */
export class ConfigError extends UsageError {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}
