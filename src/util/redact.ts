/**
 * Secrets as they may be shown or stored: a URL's password, `--token`/`--password` option values and secret-looking
 * query parameters replaced by ***. Used for everything that leaves the process as text (lock files, messages,
 * summaries, errors, the Redis registry), so that a secret given on the command line is never printed or written.
 */

export const REDACTED = '***';

const SECRET_PARAM = /^(pass(word)?|pwd|token|secret|key|api[-_]?key|access[-_]?token|auth)$/i;

/** A URL with its password and secret query parameters replaced by ***; an unparsable one says so. */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return redactSecrets(url) === url && !url.includes('@') ? url : '(unparsable url)';
  }
  if (u.password) u.password = REDACTED;
  for (const name of [...u.searchParams.keys()]) if (SECRET_PARAM.test(name)) u.searchParams.set(name, REDACTED);
  return u.toString();
}

/** `scheme://user:password@` anywhere in a text (the password may hold anything but `@`, `/` and white space). */
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/[^\s:@/]*):([^\s@/]*)@/gi;
/** `?token=…` / `&password=…` in URLs within a text. */
const QUERY_SECRET = /([?&](?:pass(?:word)?|pwd|token|secret|key|api[-_]?key|access[-_]?token|auth)=)[^\s&#]*/gi;
/** `--token X`, `--token=X`, `--password X` … on a command line. */
const OPTION_SECRET = /(--(?:[a-z-]*-)?(?:token|password|secret|api-key)(?:=|\s+))(?!--)\S+/gi;

/** A text (a command line, a message) with every secret it holds replaced by ***. */
export function redactSecrets(text: string): string {
  return text
    .replace(USERINFO, (_m, head: string) => `${head}:${REDACTED}@`)
    .replace(QUERY_SECRET, `$1${REDACTED}`)
    .replace(OPTION_SECRET, `$1${REDACTED}`);
}

/** A JSON.stringify replacer that redacts every string (for summaries, which hold the resolved config). */
export const redactStrings = (_key: string, value: unknown): unknown => (typeof value === 'string' ? redactSecrets(value) : value);
