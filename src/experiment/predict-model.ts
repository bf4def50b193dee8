/** Predictions of a trained model file: `loadModel()` and `predict()` of the library (src/api/predict.ts) and `cifar-mlp predict`. */
import { UsageError } from '../util/errors.js';
import { PIXELS, type Dataset } from '../data/cifar.js';
import { IMAGE_FORMATS, imageFormat, imageToPixels, readImageInput, singleImage, type ImageInput } from '../data/image-input.js';
import { selectBackendOrExplain } from '../model/speed-probe.js';
import type { BackendName } from '../kernels/names.js';
import { deliveredMembers, loadCheckpoint, modelFromCheckpoint } from '../formats/model-file.js';
import { argmax, Predictor } from '../model/predictor.js';
import { kernelThreads } from '../pipeline/plan.js';

/**
 * Images to classify: a file path (an image of any size, PNG, JPEG, WebP or GIF, resized to 32×32; or a CIFAR-10
 * .bin file of records), the bytes of such an image file, or raw pixels in CIFAR-10 order (1024 red, 1024 green, 1024 blue bytes per image; n images = n·3072 bytes).
 */
export type ImageSource = string | Uint8Array;

export interface Prediction {
  /** The input: its file path, "png bytes" (the format of image bytes) or "pixels"; with `record` for the records of a .bin file or of raw pixels. */
  source: string;
  record?: number;
  /** The record's own (true) label, where the input has one (CIFAR-10 .bin files). */
  trueLabel?: string;
  /** The predicted class: its name and index. */
  label: string;
  index: number;
  /** The predicted class's probability. */
  probability: number;
  /** Every class's probability, by name. */
  probabilities: Record<string, number>;
}

export interface Model {
  /** The model file. */
  readonly path: string;
  /** The run's name (its config's name). */
  readonly name: string;
  readonly classes: readonly string[];
  /** Networks it averages (1, or the members of an ensemble). */
  readonly networks: number;
  /** The kernel backend it runs on. */
  readonly backend: string;
  /** One prediction per image (a .bin file or a pixel buffer of several images gives one per record). */
  predict(images: ImageSource | readonly ImageSource[]): Promise<Prediction[]>;
  /** Frees the kernel backend (its worker threads); the model cannot predict afterwards. */
  dispose(): Promise<void>;
}

export interface LoadModelOptions {
  /** Kernel backend (default: the model config's kernels.backend). */
  backend?: BackendName;
}

async function imageOf(source: ImageSource, i: number): Promise<ImageInput> {
  if (typeof source === 'string') return readImageInput(source);
  if (!(source instanceof Uint8Array)) throw new UsageError(`images[${i}]: expected a file path, the bytes of an image file or a Uint8Array of pixels`);
  const format = imageFormat(source);
  if (format !== null) return singleImage(`${format} bytes`, await imageToPixels(`images[${i}]`, source));
  if (source.length === 0 || source.length % PIXELS !== 0) {
    throw new UsageError(`images[${i}]: ${source.length} bytes is neither an image file (${IMAGE_FORMATS}) nor whole images of ${PIXELS} pixels bytes (1024 red, 1024 green, 1024 blue)`);
  }
  const count = source.length / PIXELS;
  const data: Dataset = { pixels: source, labels: new Uint8Array(count), count };
  return { name: 'pixels', data, records: count > 1 };
}

/** A trained model (model.json, or a run folder holding one) ready to predict; `dispose()` it when done. */
export async function loadModel(path: string, options: LoadModelOptions = {}): Promise<Model> {
  const cp = loadCheckpoint(path);
  const { backend } = await selectBackendOrExplain(options.backend ?? cp.config.kernels.backend, kernelThreads(cp.config.kernels.threads));
  let predictor: Predictor;
  try {
    predictor = new Predictor(await modelFromCheckpoint(cp, backend), cp.normalization);
  } catch (e) {
    await backend.dispose();
    throw e;
  }
  const classes = cp.classes;
  let queue: Promise<unknown> = Promise.resolve();
  let disposed = false;
  const run = async (sources: readonly ImageSource[]): Promise<Prediction[]> => {
    if (disposed) throw new Error(`model ${cp.path}: disposed`);
    const inputs: ImageInput[] = [];
    for (const [i, source] of sources.entries()) inputs.push(await imageOf(source, i)); // every input is checked before any prediction
    const out: Prediction[] = [];
    for (const input of inputs) {
      await predictor.forEach(input.data, (i, p) => {
        const c = argmax(p);
        out.push({
          source: input.name,
          ...(input.records ? { record: i } : {}),
          ...(input.records && input.name !== 'pixels' ? { trueLabel: classes[input.data.labels[i]] } : {}),
          label: classes[c], index: c, probability: p[c],
          probabilities: Object.fromEntries(classes.map((n, j) => [n, p[j]])),
        });
      });
    }
    return out;
  };
  return {
    path: cp.path,
    name: cp.config.name,
    classes,
    networks: deliveredMembers(cp).length,
    backend: backend.name,
    predict(images) {
      const sources = typeof images === 'string' || images instanceof Uint8Array ? [images] : Array.isArray(images) ? [...images] : null;
      if (!sources) return Promise.reject(new UsageError('predict(): images: expected a file path, image bytes or pixels, or an array of them'));
      // One prediction at a time: they share the backend's input matrix.
      const result = queue.then(() => run(sources));
      queue = result.catch(() => {});
      return result;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      await queue;
      await backend.dispose();
    },
  };
}

/**
 * Class probabilities of `images` from a model: a model file or run folder (loaded, used and disposed), or a Model
 * from `loadModel` (kept).
 */
export async function predict(model: string | Model, images: ImageSource | readonly ImageSource[], options: LoadModelOptions = {}): Promise<Prediction[]> {
  if (typeof model !== 'string') return model.predict(images);
  const loaded = await loadModel(model, options);
  try {
    return await loaded.predict(images);
  } finally {
    await loaded.dispose();
  }
}
