/**
 * The dashboard's HTML page: served with its script (dist/dashboard/app.js, the bundle of web/main.ts built by
 * build.mjs), or exported as one self-contained file with the script and the data inlined (no network).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ExportedData } from './api-types.js';

/** Where the bundle lies: beside the CLI bundle (dist/cli.js, dist/chunks/*.js) or, from src/, in dist/. */
const BUNDLE_CANDIDATES = ['./dashboard/app.js', '../dashboard/app.js', '../../dist/dashboard/app.js'];

let bundle: string | null = null;

/** The front end's script; an Error saying to build when it is missing. */
export function readBundle(): string {
  if (bundle !== null) return bundle;
  for (const rel of BUNDLE_CANDIDATES) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return (bundle = readFileSync(path, 'utf8'));
  }
  throw new Error('the dashboard page is not built (dist/dashboard/app.js): run `node build.mjs`');
}

/** JSON safe inside a <script> element: no `</script>`, no `<!--`, no line separators. */
export const scriptJson = (value: unknown) =>
  JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

const HEAD = '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">';

/** The page served by the dashboard: it loads `script` and asks the API for everything else. */
export function pageHtml(o: { script: string }): string {
  return `${HEAD}<title>cifar-mlp dashboard</title></head><body><div id="app"></div><script src="${o.script}"></script></body></html>\n`;
}

/** A self-contained page of one run or search: the data and the script inlined, and a policy that forbids any request. */
export function exportedHtml(data: ExportedData, title: string): string {
  const csp = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:";
  const safeTitle = title.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const script = readBundle().replace(/<\/script/gi, '<\\/script');
  return `${HEAD}<meta http-equiv="Content-Security-Policy" content="${csp}"><title>${safeTitle} — cifar-mlp</title></head><body><div id="app"></div>` +
    `<script id="exported-data" type="application/json">${scriptJson(data)}</script><script>${script}</script></body></html>\n`;
}
