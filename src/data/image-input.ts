/**
 * Inputs of `predict`: images (PNG, JPEG, WebP, GIF) of any size, resized to 32×32 by sharp (libvips), and CIFAR-10
 * record files (.bin), as datasets of CIFAR records (1024 red, 1024 green, 1024 blue bytes each). An image's size is
 * read from its header before anything is decoded and refused above MAX_IMAGE_PIXELS (a small file may declare an
 * image of gigabytes); sharp's own pixel limit is set to the same cap for what the header check cannot see (frames of
 * a GIF). Every problem is a one-line UsageError naming the input.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import sharp, { type OutputInfo } from 'sharp';
import { UsageError } from '../util/errors.js';
import { PIXELS, RECORD_BYTES, readBatches, type Dataset } from './cifar.js';

/** Largest image accepted, in pixels (width × height): a 50-megapixel photo decodes to 150 MB. */
export const MAX_IMAGE_PIXELS = 50_000_000;
/** Largest image file read. */
export const MAX_IMAGE_BYTES = 64 * 2 ** 20;
const SIDE = 32;

export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'gif';
export const IMAGE_FORMATS = 'PNG, JPEG, WebP or GIF';

export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
}

const ascii = (b: Uint8Array, at: number, n: number) => Buffer.from(b.buffer, b.byteOffset + at, Math.max(0, Math.min(n, b.length - at))).toString('latin1');

/** The format an image file's first bytes announce (null: none of IMAGE_FORMATS). */
export function imageFormat(b: Uint8Array): ImageFormat | null {
  if (b.length >= 8 && ascii(b, 0, 8) === '\x89PNG\r\n\x1a\n') return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a') return 'gif';
  if (ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP') return 'webp';
  return null;
}

/** Width and height of a JPEG from its first start-of-frame marker (the markers before it are skipped by length). */
function jpegSize(b: Buffer): [number, number] | null {
  let at = 2;
  while (at + 4 <= b.length) {
    if (b[at] !== 0xff) return null;
    const marker = b[at + 1];
    if (marker === 0xff) { at++; continue; } // fill byte
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) { at += 2; continue; } // no length
    const length = b.readUInt16BE(at + 2);
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) return at + 9 <= b.length ? [b.readUInt16BE(at + 7), b.readUInt16BE(at + 5)] : null;
    if (marker === 0xda || marker === 0xd9 || length < 2) return null; // scan data or end before any frame header
    at += 2 + length;
  }
  return null;
}

function webpSize(b: Buffer): [number, number] | null {
  const chunk = ascii(b, 12, 4);
  if (chunk === 'VP8X' && b.length >= 30) return [b.readUIntLE(24, 3) + 1, b.readUIntLE(27, 3) + 1];
  if (chunk === 'VP8L' && b.length >= 25) {
    const bits = b.readUInt32LE(21);
    return [(bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1];
  }
  if (chunk === 'VP8 ' && b.length >= 30) return [b.readUInt16LE(26) & 0x3fff, b.readUInt16LE(28) & 0x3fff];
  return null;
}

/** Format and size from the header alone; a UsageError for anything else or an image above MAX_IMAGE_PIXELS. */
export function readImageHeader(name: string, bytes: Uint8Array): ImageHeader {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const format = imageFormat(b);
  if (format === null) throw new UsageError(`${name}: not an image (${IMAGE_FORMATS}) nor a CIFAR-10 .bin file`);
  const size = format === 'png' ? (ascii(b, 12, 4) === 'IHDR' && b.length >= 24 ? [b.readUInt32BE(16), b.readUInt32BE(20)] as [number, number] : null)
    : format === 'gif' ? (b.length >= 10 ? [b.readUInt16LE(6), b.readUInt16LE(8)] as [number, number] : null)
      : format === 'jpeg' ? jpegSize(b) : webpSize(b);
  if (size === null) throw new UsageError(`${name}: not a readable ${format.toUpperCase()} image (no image size in its header)`);
  const [width, height] = size;
  if (width === 0 || height === 0) throw new UsageError(`${name}: ${format.toUpperCase()} image of ${width}×${height} pixels holds nothing`);
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new UsageError(`${name}: ${format.toUpperCase()} image of ${width}×${height} pixels is larger than the ${MAX_IMAGE_PIXELS / 1e6} megapixels accepted`);
  }
  return { format, width, height };
}

/**
 * One image as a CIFAR record's pixels (1024 red, 1024 green, 1024 blue): the header checked first, then decoded by
 * sharp, converted to sRGB (alpha dropped, grey expanded), centre-cropped to a square and resized to 32×32. A 32×32
 * image is used as it is.
 */
export async function imageToPixels(name: string, bytes: Uint8Array): Promise<Uint8Array> {
  const header = readImageHeader(name, bytes);
  let image = sharp(bytes, { limitInputPixels: MAX_IMAGE_PIXELS, failOn: 'error', pages: 1 }).removeAlpha().toColourspace('srgb');
  if (header.width !== SIDE || header.height !== SIDE) image = image.resize(SIDE, SIDE, { fit: 'cover', position: 'centre' });
  let data: Buffer, info: OutputInfo;
  try {
    ({ data, info } = await image.raw().toBuffer({ resolveWithObject: true }));
  } catch (e) {
    throw new UsageError(`${name}: not a readable ${header.format.toUpperCase()} image (${(e as Error).message.split('\n')[0]})`);
  }
  if (info.width !== SIDE || info.height !== SIDE || info.channels !== 3) {
    throw new UsageError(`${name}: decoded to ${info.width}×${info.height}×${info.channels}, expected ${SIDE}×${SIDE} RGB`);
  }
  const out = new Uint8Array(PIXELS);
  for (let i = 0; i < SIDE * SIDE; i++) {
    out[i] = data[i * 3];
    out[1024 + i] = data[i * 3 + 1];
    out[2048 + i] = data[i * 3 + 2];
  }
  return out;
}

/** At most `max` bytes of a file, and its size. */
function readBounded(file: string, max: number): { bytes: Buffer; size: number } {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(Math.min(size, max));
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return { bytes: buf.subarray(0, got), size };
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

/** One image as an input of one record. */
export const singleImage = (name: string, pixels: Uint8Array): ImageInput => ({ name, data: { pixels, labels: new Uint8Array(1), count: 1 }, records: false });

/** An image or a CIFAR-10 .bin file, read and checked. */
export async function readImageInput(file: string): Promise<ImageInput> {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${file}: ${code === 'ENOENT' ? 'file not found' : `cannot read it (${code})`}`);
  }
  if (st.isDirectory()) throw new UsageError(`${file}: is a directory, expected an image (${IMAGE_FORMATS}) or a CIFAR-10 .bin file`);
  if (st.size === 0) throw new UsageError(`${file}: file is empty`);
  let head: Buffer;
  try {
    head = readBounded(file, 16).bytes;
  } catch (e) {
    throw new UsageError(`${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (imageFormat(head) !== null || (/\.(png|jpe?g|webp|gif)$/i.test(file) && !/\.bin$/i.test(file))) {
    if (st.size > MAX_IMAGE_BYTES) throw new UsageError(`${file}: ${st.size} bytes is larger than the ${MAX_IMAGE_BYTES / 2 ** 20} MiB an image file may have`);
    return singleImage(file, await imageToPixels(file, readBounded(file, MAX_IMAGE_BYTES).bytes));
  }
  if (/\.bin$/i.test(file) || st.size % RECORD_BYTES === 0) return { name: file, data: readBatches([file]), records: true };
  throw new UsageError(`${file}: not an image (${IMAGE_FORMATS}) nor a CIFAR-10 .bin file (${st.size} bytes is not a multiple of ${RECORD_BYTES})`);
}
