/** The CLI's lines for people: on stderr, so that stdout stays for what a command prints as its result. */
export const log = (line: string) => process.stderr.write(`${line}\n`);
