// What crosses the queue, without Redis: the handshake, the job and result schemas (untrusted input), the trial
// folder's packing, the data fingerprint, URL checks and the classification of Redis errors.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchSchema } from '../src/config/search-schema.js';
import { loadSplits } from '../src/data/splits.js';
import { dataFingerprint, dataKey } from '../src/search/data-fingerprint.js';
import { checkQueueUrl, fatalRedisProblem, isConnectionError } from '../src/search/queue-connection.js';
import { packFolder, unpackInto } from '../src/search/queue-files.js';
import {
  PROTOCOL, encodeNumbers, handshakeProblem, isSearchId, jobDataSchema, localIdentity, newSearchId, redactUrl, resultEnvelopeSchema, trialResultSchema, zodProblems,
} from '../src/search/queue-protocol.js';
import { trialConfig } from '../src/search/trial-config.js';
import { CLI } from './helpers/queue-fixtures.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

let root: string;
beforeAll(() => { root = mkdtempSync(join(tmpdir(), 'queue-protocol-test-')); });
afterAll(() => rmSync(root, { recursive: true, force: true }));

const config = searchSchema.parse({ kind: 'search', name: 's', trials: 1, space: { lMin: -3, lMax: -2 }, base: { data: { holdout: 100 } } });
const job = (over: Record<string, unknown> = {}, task: Record<string, unknown> = {}) => ({
  ...localIdentity(), search: 's-0123abcd', fingerprint: 'a'.repeat(64), threads: 1, control: {},
  task: { trial: 1, params: { 'base.train.lambda': 1e-3 }, config: trialConfig(config, { trial: 1, params: { 'base.train.lambda': 1e-3 } }, 1, 1), ...task }, ...over,
});

describe('handshake', () => {
  it('agrees on the same identity and names both sides otherwise', () => {
    const me = localIdentity();
    expect(me.version).toBe('0.1.0');
    expect(me.schema).toMatch(/^[0-9a-f]{12}$/);
    expect(handshakeProblem({ ...me }, me, 'worker')).toBeNull();
    expect(handshakeProblem({ ...me, schema: '000000000000' }, me, 'coordinator'))
      .toBe(`version mismatch: the coordinator runs cifar-mlp 0.1.0 (queue protocol ${PROTOCOL}, config schema 000000000000), this worker cifar-mlp 0.1.0 (queue protocol ${PROTOCOL}, config schema ${me.schema}); run the same cifar-mlp version on the coordinator and every worker`);
    expect(handshakeProblem({}, me, 'worker')).toMatch(/the worker runs cifar-mlp \? \(queue protocol \?, config schema \?\), this coordinator/);
  });
});

describe('job payloads', () => {
  it('accept a trial and validate its config with the training schema', () => {
    const parsed = jobDataSchema.parse(job({}, { rungs: [5, 10], saveModel: true, params: { 'base.train.lambda': 1e-3, 'base.model.hidden': 20, 'base.kernels.backend': 'wasm-simd', 'base.x.on': false } }));
    expect(parsed.task.config.train.lambda).toBe(1e-3);
    expect(parsed.task.params).toEqual({ 'base.train.lambda': 1e-3, 'base.model.hidden': 20, 'base.kernels.backend': 'wasm-simd', 'base.x.on': false });
    expect(parsed.task.rungs).toEqual([5, 10]);
    expect(parsed.task.saveModel).toBe(true);
  });

  it.each([
    ['a batch name with a path', {}, { config: { ...job().task.config, data: { ...job().task.config.data, train: ['../x'] } } }, /task\.config\.data\.train\.0/],
    ['an unknown config field', {}, { config: { ...job().task.config, extra: 1 } }, /task\.config/],
    ['a folder in the task', {}, { outDir: '/tmp/x' }, /task\.outDir: a task from the queue names no folders/],
    ['a data folder in the task', {}, { dataDir: '/etc' }, /task\.dataDir: a task from the queue names no folders/],
    ['an unknown task field', {}, { l: -3 }, /task: Unrecognized key.*"l"/],
    ['no params', {}, { params: undefined }, /task\.params/],
    ['a param value that is not finite (Infinity arrives as null)', {}, { params: { 'base.train.lambda': null } }, /task\.params\.base\.train\.lambda/],
    ['a param value that is an object', {}, { params: { 'base.train.lambda': { $gt: 1 } } }, /task\.params\.base\.train\.lambda/],
    ['a param path outside base', {}, { params: { '__proto__.x': 1 } }, /task\.params\.__proto__\.x: Invalid key/],
    ['a string param value too long', {}, { params: { 'base.kernels.backend': 'x'.repeat(201) } }, /task\.params\.base\.kernels\.backend/],
    ['saveModel that is not a boolean', {}, { saveModel: 'yes' }, /task\.saveModel/],
    ['rungs that are not steps', {}, { rungs: [0] }, /task\.rungs\.0/],
    ['a bad fingerprint', { fingerprint: 'zz' }, {}, /fingerprint/],
    ['a bad search id', { search: '../../x' }, {}, /search/],
    ['too many threads', { threads: 100000 }, {}, /threads/],
    ['an unknown control field', { control: { run: 'x' } }, {}, /control/],
  ])('refuse %s', (_what, over, task, message) => {
    const r = jobDataSchema.safeParse(job(over, task));
    expect(r.success).toBe(false);
    expect(zodProblems(r.error!)).toMatch(message);
  });
});

describe('results', () => {
  it('keep NaN and Infinity through JSON', () => {
    const result = { trial: 2, status: 'diverged', final: null, steps: NaN, seconds: 1.5, backend: 'wasm-simd', threads: 1, reason: 'x', pruned: { step: 3, valAccuracy: -Infinity } };
    const back = trialResultSchema.parse(JSON.parse(JSON.stringify(encodeNumbers(result))));
    expect(back.steps).toBeNaN();
    expect(back.pruned!.valAccuracy).toBe(-Infinity);
    expect(back.seconds).toBe(1.5);
  });

  it('accept a search trial\'s result: no test metrics (only the chosen trial is tested), its total steps', () => {
    const split = { loss: 1, cost: 1.2, accuracy: 0.4 };
    const result = { trial: 1, status: 'completed', final: { train: split, val: split, test: null }, steps: 100, totalSteps: 100, seconds: 1, backend: 'wasm-simd', threads: 1 };
    const back = trialResultSchema.parse(JSON.parse(JSON.stringify(encodeNumbers(result))));
    expect(back.final!.test).toBeNull();
    expect(back.totalSteps).toBe(100);
    expect(trialResultSchema.safeParse({ ...result, final: { train: split, val: null, test: null } }).success).toBe(false);
  });

  it.each(['../x', '/etc/passwd', 'a/../../b', 'a/./b', '.hidden', 'a\\b', ''])('refuse the result file path %j', (path) => {
    const env = { ...localIdentity(), worker: 'w', result: { trial: 1, status: 'failed', final: null, steps: 0, seconds: 0, backend: '', threads: 1 }, files: [{ path, gz: '' }] };
    expect(resultEnvelopeSchema.safeParse(env).success).toBe(false);
  });
});

describe('trial folders', () => {
  it('pack every regular file (sub-folders too, no dot-files or links) and unpack them elsewhere', () => {
    const src = join(root, 'src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'metrics.csv'), 'step\n0\n');
    writeFileSync(join(src, 'sub', 'model.json'), '{"w":[1,2]}');
    writeFileSync(join(src, '.tmp'), 'no');
    symlinkSync('/etc/passwd', join(src, 'link'));
    const packed = packFolder(src);
    expect(packed.map((f) => f.path)).toEqual(['metrics.csv', 'sub/model.json']);
    const dst = join(root, 'dst');
    unpackInto(dst, packed);
    expect(readFileSync(join(dst, 'sub', 'model.json'), 'utf8')).toBe('{"w":[1,2]}');
    expect(readFileSync(join(dst, 'metrics.csv'), 'utf8')).toBe('step\n0\n');
  });

  it('never writes outside the trial folder', () => {
    const gz = gzipSync('x').toString('base64');
    for (const path of ['../escaped', 'a/../../escaped', '/tmp/escaped']) {
      expect(() => unpackInto(join(root, 'dst2'), [{ path, gz }])).toThrow(/not a plain relative path|outside/);
    }
    expect(existsSync(join(root, 'escaped'))).toBe(false);
  });
});

describe('data fingerprint', () => {
  it('is the same for the same records and differs for other records; the key leaves folders out', () => {
    const a = writeSyntheticCifar(join(root, 'a'), 50, 60);
    const b = writeSyntheticCifar(join(root, 'b'), 50, 61);
    const data = { ...config.base.data, holdout: 20 };
    expect(dataFingerprint(loadSplits(data, a))).toBe(dataFingerprint(loadSplits(data, a)));
    expect(dataFingerprint(loadSplits(data, a))).not.toBe(dataFingerprint(loadSplits(data, b)));
    expect(dataFingerprint(loadSplits(data, a))).not.toBe(dataFingerprint(loadSplits({ ...data, holdout: 10 }, a)));
    expect(dataKey({ ...data, dir: '/x', url: 'http://y' })).toBe(dataKey(data));
    expect(dataKey({ ...data, trainLimit: 10 })).not.toBe(dataKey(data));
  });
});

describe('queue URLs and Redis errors', () => {
  it('checks the URL and never shows its password', () => {
    expect(redactUrl('redis://user:secret@h:6379/2')).toBe('redis://user:***@h:6379/2');
    expect(checkQueueUrl('rediss://:secret@h:6380')).toBe('rediss://:***@h:6380');
    expect(() => checkQueueUrl('http://h:1')).toThrow(/unsupported scheme http; expected redis:\/\/ or rediss:\/\//);
    expect(() => checkQueueUrl('not a url :secret@')).toThrow(/not a URL/);
    expect(() => checkQueueUrl('redis://h:1/queue')).toThrow(/database number/);
    expect(() => checkQueueUrl('redis://:p%zzw@h:1')).toThrow(/^--queue redis:\/\/:\*\*\*@h:1\/?: the password holds a malformed %-escape; write a % in it as %25/);
    expect(() => checkQueueUrl('redis://us%er:pw@h:1')).toThrow(/the user name holds a malformed %-escape/);
    expect(checkQueueUrl('redis://:p%25w@h:1')).toBe('redis://:***@h:1');
    try {
      checkQueueUrl('ftp://u:secret@h');
    } catch (e) {
      expect((e as Error).message).not.toContain('secret');
    }
  });

  it('tells outages from problems that retrying does not solve', () => {
    expect(fatalRedisProblem(new Error('WRONGPASS invalid username-password pair or user is disabled.'))).toMatch(/^authentication failed \(WRONGPASS/);
    expect(fatalRedisProblem(new Error('NOAUTH Authentication required.'))).toMatch(/authentication failed/);
    expect(fatalRedisProblem(Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }))).toMatch(/TLS handshake failed.*NODE_EXTRA_CA_CERTS/);
    expect(fatalRedisProblem(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBeNull();
    expect(isConnectionError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isConnectionError(new Error('Connection is closed.'))).toBe(true);
    expect(isConnectionError(new Error('Missing lock for job 1'))).toBe(false);
  });

  it('gives each search its own id', () => {
    const a = newSearchId('Search Coarse!'), b = newSearchId('Search Coarse!');
    expect(a).toMatch(/^search-coarse-[0-9a-f]{8}$/);
    expect(a).not.toBe(b);
    expect(isSearchId(newSearchId('∂∂∂'))).toBe(true);
  });
});

describe('bad input on the command line (exit 2, one line, nothing written)', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });

  it('search --queue with a URL that is not redis:// names it without its password', () => {
    const data = writeSyntheticCifar(join(root, 'cli-data'), 50, 60);
    const cfg = join(root, 'cli.yaml');
    writeFileSync(cfg, JSON.stringify({ kind: 'search', name: 'cli', trials: 1, space: { lMin: -3, lMax: -2 }, base: { data: { holdout: 20 } } }));
    const out = join(root, 'cli-out');
    const r = cli('search', cfg, '--data', data, '--out', out, '--queue', 'http://u:secret@h:1');
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('cifar-mlp: --queue http://u:***@h:1/: unsupported scheme http; expected redis:// or rediss:// (TLS)');
    expect(existsSync(out)).toBe(false);
  });

  it.each([
    [['--concurrency', '0'], /--concurrency: expected a whole number above 0 and at most 256 \(got "0"\)/],
    [['--lock-seconds', 'x'], /--lock-seconds: expected a number above 0/],
    [['--name', 'a b'], /--name: letters, digits/],
    [['--data', '/nonexistent/cifar'], /--data.*\/nonexistent\/cifar/],
  ])('worker %j', (args, message) => {
    const r = cli('worker', '--queue', 'redis://127.0.0.1:1', '--data', root, ...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('worker without --queue', () => {
    const r = cli('worker');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/required option '--queue <url>' not specified/);
  });
});
