/**
 * Inputs of `predict`: 32×32 RGB(A) PNG images and CIFAR-10 record files (.bin), as datasets of CIFAR records
 * (1024 red, 1024 green, 1024 blue bytes each). Every problem is a one-line UsageError naming the input.
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { PNG } from 'pngjs';
import { UsageError } from '../util/errors.js';
import { PIXELS, RECORD_BYTES, readBatches, type Dataset } from './cifar.js';

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Whether `bytes` start like a PNG file. */
export const isPng = (bytes: Uint8Array) => bytes.length >= 8 && Buffer.from(bytes.buffer, bytes.byteOffset, 8).equals(PNG_SIGNATURE);

/** One 32×32 colour PNG as a CIFAR record's pixels (1024 red, 1024 green, 1024 blue; alpha ignored). */
export function pngToPixels(file: string, bytes: Buffer): Uint8Array {
  if (!bytes.subarray(0, 8).equals(PNG_SIGNATURE)) throw new UsageError(`${file}: not a PNG image (no PNG signature)`);
  let png: PNG;
  try {
    png = PNG.sync.read(bytes);
  } catch (e) {
    throw new UsageError(`${file}: not a readable PNG image (${(e as Error).message.split('\n')[0]})`);
  }
  if (png.width !== 32 || png.height !== 32) throw new UsageError(`${file}: image is ${png.width}×${png.height}, expected 32×32 pixels (CIFAR-10 size)`);
  const colorType = (png as unknown as { colorType?: number }).colorType;
  if (colorType === 0 || colorType === 4) throw new UsageError(`${file}: grayscale image, expected an RGB or RGBA image`);
  const out = new Uint8Array(PIXELS);
  for (let i = 0; i < 1024; i++) {
    out[i] = png.data[i * 4];
    out[1024 + i] = png.data[i * 4 + 1];
    out[2048 + i] = png.data[i * 4 + 2];
  }
  return out;
}

function readHead(file: string, n: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

export interface ImageInput {
  name: string;
  data: Dataset;
  /** true for CIFAR records (with a label), false for images */
  records: boolean;
}

/** A PNG image or a CIFAR-10 .bin file, read and checked. */
export function readImageInput(file: string): ImageInput {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${file}: ${code === 'ENOENT' ? 'file not found' : `cannot read it (${code})`}`);
  }
  if (st.isDirectory()) throw new UsageError(`${file}: is a directory, expected a PNG image or a CIFAR-10 .bin file`);
  if (st.size === 0) throw new UsageError(`${file}: file is empty`);
  let head: Buffer;
  try {
    head = readHead(file, 8);
  } catch (e) {
    throw new UsageError(`${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (head.equals(PNG_SIGNATURE) || /\.png$/i.test(file)) {
    if (st.size > 16 * 2 ** 20) throw new UsageError(`${file}: ${st.size} bytes is too large for a 32×32 image`);
    const pixels = pngToPixels(file, readFileSync(file));
    return { name: file, data: { pixels, labels: new Uint8Array(1), count: 1 }, records: false };
  }
  if (/\.bin$/i.test(file) || st.size % RECORD_BYTES === 0) return { name: file, data: readBatches([file]), records: true };
  throw new UsageError(`${file}: not a PNG image nor a CIFAR-10 .bin file (${st.size} bytes is not a multiple of ${RECORD_BYTES})`);
}
