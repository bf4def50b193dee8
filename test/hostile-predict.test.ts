// Issue 21.2 and 26.9: predict takes images of any size (PNG, JPEG, WebP, GIF; resized to 32×32 by sharp), reads an
// image's size from its header before decoding anything and refuses more than MAX_IMAGE_PIXELS (a 69-byte PNG once
// took 4 GB); `label` is the predicted class everywhere, the record's own label is `trueLabel`; a reader that goes
// away (`| head`) ends nothing badly (21.13); non-finite outputs are refused (21.12).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import sharp from 'sharp';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { predict } from '../src/api/predict.js';
import { encodeRecords, PIXELS } from '../src/data/cifar.js';
import { imageToPixels, MAX_IMAGE_PIXELS, readImageHeader } from '../src/data/image-input.js';
import { checksumOf } from '../src/formats/model-file.js';
import { UsageError } from '../src/util/errors.js';
import { CLI, cli } from './helpers/cli.js';
import { syntheticRecords, writeSyntheticCifar } from './helpers/synthetic.js';

const root = mkdtempSync(join(tmpdir(), 'hostile-predict-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const dataDir = writeSyntheticCifar(join(root, 'data'), 30, 60);

const CONFIG = {
  name: 'tiny', seed: 3,
  data: { train: ['data_batch_1'], validation: ['data_batch_2'], test: ['test_batch'] },
  model: { hidden: 4 },
  train: { lambda: 0.01, batchSize: 10 },
  schedule: { etaMin: 1e-4, etaMax: 0.05, ns: 6, cycles: 2 },
  eval: { every: 1 },
  kernels: { backend: 'reference' },
};
const configFile = join(root, 'tiny.yaml');
writeFileSync(configFile, stringify(CONFIG));

let model = '';
beforeAll(async () => {
  model = join(root, 'model');
  const r = await cli(['run', configFile, '--data', dataDir, '--out', model]);
  expect(r.code, r.stderr).toBe(0);
}, 120_000);

/** A PNG whose IHDR declares width × height (the file itself is tiny: one row of pixel data, the rest missing). */
function pngDeclaring(width: number, height: number, colorType = 6): Buffer {
  const p = new PNG({ width: 1, height: 1, colorType: colorType as 6 });
  const b = PNG.sync.write(p, { colorType: colorType as 6 });
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  return b;
}
/** A JPEG header whose start-of-frame declares width × height (an APP0 segment before it). */
function jpegDeclaring(width: number, height: number): Buffer {
  const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]);
  const sof = Buffer.from([0xff, 0xc2, 0x00, 0x11, 0x08, height >> 8, height & 255, width >> 8, width & 255, 0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, sof, Buffer.from([0xff, 0xd9])]);
}
const gifDeclaring = (width: number, height: number) => Buffer.concat([Buffer.from('GIF89a', 'latin1'), Buffer.from([width & 255, width >> 8, height & 255, height >> 8, 0, 0, 0]), Buffer.from([0x3b])]);
function webpDeclaring(width: number, height: number): Buffer {
  const b = Buffer.alloc(30);
  b.write('RIFF', 0, 'latin1'); b.writeUInt32LE(22, 4); b.write('WEBP', 8, 'latin1'); b.write('VP8X', 12, 'latin1');
  b.writeUInt32LE(10, 16); b.writeUIntLE(width - 1, 24, 3); b.writeUIntLE(height - 1, 27, 3);
  return b;
}

const BOMBS: [string, Buffer, RegExp][] = [
  ['a 69-byte PNG declaring 20000×20000', pngDeclaring(20000, 20000), /PNG image of 20000×20000 pixels is larger than the 50 megapixels accepted/],
  ['a PNG declaring 32000×32000 RGBA', pngDeclaring(32000, 32000), /32000×32000 pixels is larger/],
  ['a PNG declaring 2^31-1 × 1', pngDeclaring(2 ** 31 - 1, 1), /2147483647×1 pixels is larger/],
  ['a progressive JPEG declaring 65500×65500', jpegDeclaring(65500, 65500), /JPEG image of 65500×65500 pixels is larger/],
  ['a GIF declaring 65535×65535', gifDeclaring(65535, 65535), /GIF image of 65535×65535 pixels is larger/],
  ['a WebP declaring 16384×16384', webpDeclaring(16384, 16384), /WEBP image of 16384×16384 pixels is larger/],
];

describe('image size from the header, before any decode', () => {
  it.each(BOMBS)('%s is refused at once, without memory', async (_name, bytes, message) => {
    const rss = process.memoryUsage().rss, t0 = Date.now();
    expect(() => readImageHeader('x', bytes)).toThrow(message);
    const err = await imageToPixels('x', bytes).then(() => null, (e: Error) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err!.message).toMatch(message);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(process.memoryUsage().rss - rss).toBeLessThan(100 * 2 ** 20);
  });

  it('the cap is the one named, and an image just under it is not refused by the header check', () => {
    expect(MAX_IMAGE_PIXELS).toBe(50_000_000);
    expect(readImageHeader('x', pngDeclaring(5000, 10000))).toEqual({ format: 'png', width: 5000, height: 10000 });
    expect(() => readImageHeader('x', pngDeclaring(5001, 10000))).toThrow(/larger than/);
    expect(() => readImageHeader('x', pngDeclaring(0, 10))).toThrow(/0×10 pixels holds nothing/);
    expect(() => readImageHeader('x', Buffer.from('<svg width="99999" height="99999"/>'))).toThrow(/not an image \(PNG, JPEG, WebP or GIF\)/);
  });

  it('through the CLI and the library alike', async () => {
    writeFileSync(join(root, 'bomb.png'), pngDeclaring(20000, 20000));
    const r = await cli(['predict', model, join(root, 'bomb.png')]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim()).toMatch(/^cifar-mlp: .*bomb\.png: PNG image of 20000×20000 pixels is larger than the 50 megapixels accepted$/);
    await expect(predict(model, jpegDeclaring(60000, 60000))).rejects.toThrow(/images\[0\]: JPEG image of 60000×60000 pixels/);
  });
});

describe('images of any size and format, resized to 32×32', () => {
  const solid = (w: number, h: number) => sharp({ create: { width: w, height: h, channels: 3, background: { r: 200, g: 30, b: 60 } } });
  const planes = (p: Uint8Array) => [p.subarray(0, 1024), p.subarray(1024, 2048), p.subarray(2048, 3072)];

  it.each([
    ['a 640×480 JPEG', () => solid(640, 480).jpeg({ quality: 95 }).toBuffer()],
    ['a 50×200 PNG', () => solid(50, 200).png().toBuffer()],
    ['a 33×33 WebP', () => solid(33, 33).webp({ lossless: true }).toBuffer()],
    ['a 64×64 GIF', () => solid(64, 64).gif().toBuffer()],
  ])('%s gives its colour in every pixel', async (_name, make) => {
    const pixels = await imageToPixels('x', await make());
    expect(pixels).toHaveLength(PIXELS);
    const [r, g, b] = planes(pixels);
    for (const [plane, value] of [[r, 200], [g, 30], [b, 60]] as const) {
      for (const v of plane) expect(Math.abs(v - value)).toBeLessThanOrEqual(6);
    }
  });

  it('a 32×32 RGBA PNG is used exactly as it is (alpha dropped); a grey one has equal planes', async () => {
    const p = new PNG({ width: 32, height: 32 });
    for (let i = 0; i < p.data.length; i++) p.data[i] = (i * 37) % 256;
    const pixels = await imageToPixels('x', PNG.sync.write(p));
    for (let i = 0; i < 1024; i++) {
      expect([pixels[i], pixels[1024 + i], pixels[2048 + i]]).toEqual([p.data[4 * i], p.data[4 * i + 1], p.data[4 * i + 2]]);
    }
    const grey = await imageToPixels('x', await sharp({ create: { width: 40, height: 40, channels: 3, background: { r: 90, g: 90, b: 90 } } }).greyscale().png().toBuffer());
    const [r, g, b] = planes(grey);
    expect([...r]).toEqual([...g]);
    expect([...g]).toEqual([...b]);
  });

  it('a truncated image is refused with one line', async () => {
    const jpeg = await solid(300, 200).jpeg().toBuffer();
    await expect(imageToPixels('cut.jpg', jpeg.subarray(0, 400))).rejects.toThrow(/^cut\.jpg: not a readable JPEG image/);
  });

  it('the CLI predicts a photo-sized JPEG, and its help says images of any size are resized', async () => {
    writeFileSync(join(root, 'photo.jpg'), await solid(1200, 900).jpeg().toBuffer());
    const r = await cli(['predict', model, join(root, 'photo.jpg')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/photo\.jpg: \w+ \d\.\d{4} \| airplane/);
    const help = await cli(['predict', '--help']);
    expect(help.stdout).toMatch(/PNG, JPEG, WebP or GIF of any size/);
    expect(help.stdout).toMatch(/resized to 32×32/);
  });
});

describe('label is the predicted class, trueLabel the record\'s own', () => {
  it('in the library and in the CLI\'s JSON', async () => {
    const { labels, pixels } = syntheticRecords(6, 77);
    const bin = join(root, 'six.bin');
    writeFileSync(bin, encodeRecords(labels, pixels));
    const classes = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
    const lib = await predict(model, bin);
    const r = await cli(['predict', model, bin, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const json = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(json).toHaveLength(6);
    lib.forEach((p, i) => {
      const best = Object.entries(p.probabilities).sort((a, b) => b[1] - a[1])[0][0];
      expect(p.label).toBe(best);
      expect(p.trueLabel).toBe(classes[labels[i]]);
      expect(json[i]).toMatchObject({ input: bin, record: i, label: p.label, trueLabel: classes[labels[i]] });
      expect(json[i].predicted).toBeUndefined();
    });
  });
});

describe('a reader that goes away', () => {
  const bash = (script: string) => spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' }, timeout: 120_000 });

  it('predict --json | head -1: one line, no EPIPE message, exit 0', () => {
    const { labels, pixels } = syntheticRecords(3000, 5);
    const bin = join(root, 'many.bin');
    writeFileSync(bin, encodeRecords(labels, pixels));
    const r = bash(`"${process.execPath}" "${CLI}" predict "${model}" "${bin}" --json | head -1; echo "rc=\${PIPESTATUS[0]}" >&2`);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(r.stdout).record).toBe(0);
    expect(r.stderr.trim()).toBe('rc=0');
  });

  it('run … 2>&1 | head -1: the run goes on to its end, exit 0, summary.json completed', () => {
    const out = join(root, 'piped-run');
    const r = bash(`"${process.execPath}" "${CLI}" run "${configFile}" --data "${dataDir}" --out "${out}" 2>&1 | head -1; echo "rc=\${PIPESTATUS[0]}" >&2`);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stderr.trim()).toBe('rc=0');
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.status).toBe('completed');
    expect(summary.steps).toBe(24);
  });
});

describe('non-finite outputs', () => {
  it('a model whose finite weights overflow the forward pass is refused, not printed as NaN', async () => {
    const { sha256: _s, ...doc } = JSON.parse(readFileSync(join(model, 'model.json'), 'utf8'));
    const w1 = doc.params.W1;
    const huge = new Float64Array(w1.rows * w1.cols).map((_, i) => (i % 2 ? 1e308 : -1e308));
    doc.params.W1 = { ...w1, data: Buffer.from(huge.buffer).toString('base64') };
    const dir = mkdtempSync(join(root, 'huge-'));
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...doc, sha256: checksumOf(doc) }));
    const { labels, pixels } = syntheticRecords(2, 9);
    writeFileSync(join(dir, 'two.bin'), encodeRecords(labels, pixels));
    await expect(predict(dir, join(dir, 'two.bin'))).rejects.toThrow(/non-finite class probabilities .* record 0/);
    const r = await cli(['predict', dir, join(dir, 'two.bin')]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/non-finite class probabilities/);
  });
});
