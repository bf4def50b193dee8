/**
 * YAML limited to the core schema: mappings, lists, strings, numbers, booleans and null. Every other tag —
 * `!!omap`, `!!set`, `!!binary`, `!!timestamp`, `!!js/function`, local (`!foo`) or custom (`%TAG`) tags — is refused,
 * as is a core tag that does not fit its value (`!!float abc`): a config never means something other than it shows.
 */
import { isNode, LineCounter, parseDocument, visit } from 'yaml';

const CORE = 'tag:yaml.org,2002:';
const ALLOWED_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `${CORE}${t}`));

/** A YAML text that is not valid, or not plain core-schema YAML; `message` is one line. */
export class YamlError extends Error {
  override name = 'YamlError';
}

const shortTag = (tag: string) => (tag.startsWith(CORE) ? `!!${tag.slice(CORE.length)}` : tag);

/**
 * Parses one YAML document of the core schema. `maxAliasCount` bounds alias expansion (billion laughs).
 * Throws a YamlError: "invalid YAML: …" for syntax, "line N: tag !!omap is not allowed …" for tags.
 */
export function parseCoreYaml(text: string, maxAliasCount = 50): unknown {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, resolveKnownTags: false, prettyErrors: true, logLevel: 'silent', uniqueKeys: true });
  if (doc.errors.length > 0) throw new YamlError(`invalid YAML: ${doc.errors[0].message.split('\n')[0].replace(/:$/, '')}`);
  const at = (offset: number | undefined) => (offset === undefined ? '' : `line ${lines.linePos(offset).line}: `);
  let bad: string | null = null;
  visit(doc, (_key, node) => {
    if (!isNode(node) || !node.tag || ALLOWED_TAGS.has(node.tag)) return undefined;
    bad = `${at(node.range?.[0])}tag ${shortTag(node.tag)} is not allowed (plain YAML only: mappings, lists, strings, numbers, booleans, null)`;
    return visit.BREAK;
  });
  if (bad) throw new YamlError(bad);
  const unresolved = doc.warnings.find((w) => w.code === 'TAG_RESOLVE_FAILED');
  if (unresolved) {
    const tag = /Unresolved tag: (\S+)/.exec(unresolved.message)?.[1] ?? 'a tag';
    throw new YamlError(`${at(unresolved.pos[0])}tag ${shortTag(tag)} does not fit its value`);
  }
  try {
    return doc.toJS({ maxAliasCount });
  } catch (e) {
    throw new YamlError(`invalid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
}
