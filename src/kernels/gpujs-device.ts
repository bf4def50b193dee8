/**
 * gpu.js on a GPU with the data kept there: every matrix is a gpu.js pipeline output (a float texture under
 * headlessgl, a storage buffer under webgpu) and every op is a gpu.js kernel from gpujs-device-kernels.ts, so a
 * training step moves only its input batch and labels to the device and only the loss sums back (a few
 * partial sums); `read` is the one full transfer (checkpoints, evaluation reports, tests).
 *
 * In-place ops (x = f(x, …)) run immutable pipeline kernels, gpu.js's way of feeding a kernel its own output:
 * under headlessgl it then renders into two alternating textures (ping-pong), under webgpu each call gets a
 * fresh buffer and the old one is freed. An op that overwrites its output without reading it releases the
 * output's old value first, so a kernel can render into the same texture step after step.
 *
 * A product defers itself until the next op: when that op is biasRelu, dropout or reluBackward on the product's
 * own output, it joins the product's kernel as an epilogue (one pass instead of two or three).
 */
import { createRequire } from 'node:module';
import type { GPU as GpuJs, IKernelRunShortcut } from 'gpu.js';
import { gemmShape, type AdamState, type HostMatrix, type KernelBackend, type Labels, type LossSums, type Matrix, type MomentumState } from './backend.js';
import { ReferenceBackend } from './reference.js';
import { keepThreshold, maskHash } from './dropout-mask.js';
import {
  batchNormSpec, columnDotsSpec, columnSumsSpec, columnVarianceSpec, elementwiseSpec, epilogueArgs, gemmSpec, LOSS_BLOCK, lossKernelSpec, maskWords, MASK_BITS, momentumStepSpec, rowSquaresSpec,
  scaleAddSpec, softmaxSpec, uploadSpec, velocitySpec, zeroSpec, type Epilogue, type KernelSpec,
} from './gpujs-device-kernels.js';
import { claimGlContext } from './gl-context.js';
import { headlessGlDevice } from './headless-gl-setup.js';
import type { GpuDevice } from './software-renderer.js';
import { setUpWebGpu } from './webgpu-setup.js';

export type DeviceMode = 'headlessgl' | 'webgpu';

/** A gpu.js pipeline value: a GL texture or a WebGPU buffer handle, reference-counted by gpu.js. */
interface Resident {
  delete(): void;
  toArray(): unknown;
}

class DeviceMatrix implements Matrix {
  value: Resident | null = null; // null: all zeros
  released = false;
  constructor(readonly rows: number, readonly cols: number, readonly owner: GpuJsDeviceBackend) {}
}

interface PendingGemm {
  a: DeviceMatrix; ta: boolean; b: DeviceMatrix; tb: boolean; c: DeviceMatrix;
  n: number; m: number; k: number; alpha: number; beta: number;
  bias?: DeviceMatrix; dropout?: { keep: number; seed: number }; relu?: { h: DeviceMatrix; scale: number };
}

type Arg = DeviceMatrix | Float32Array | number;

const gpujs = () => createRequire(import.meta.url)('gpu.js') as typeof import('gpu.js') & { WebGPUContext: { destroy(): Promise<void> } };

/** Host ↔ device traffic and kernel launches so far (tests check that a step stays on the device). */
export interface DeviceStats {
  kernels: number;
  /** Host arrays handed to kernels (batches, labels, dropout masks, written values) and their floats. */
  uploads: number;
  uploadFloats: number;
  /** Device values read back to the host and their floats. */
  reads: number;
  readFloats: number;
}

export class GpuJsDeviceBackend implements KernelBackend {
  /** gpu.js shares one WebGPU device between its GPU instances: the last backend to go destroys it. */
  private static webGpuBackends = 0;
  readonly dtype = 'float32' as const;
  readonly threads = 1;
  readonly name: string;
  private readonly kernels = new Map<string, IKernelRunShortcut>();
  private readonly checked = new WeakSet<object>();
  private readonly live = new Set<DeviceMatrix>();
  private readonly staging = new Map<number, Float32Array>();
  private pending: PendingGemm | null = null;
  private disposed = false;
  readonly stats: DeviceStats = { kernels: 0, uploads: 0, uploadFloats: 0, reads: 0, readFloats: 0 };

  private constructor(private readonly gpu: GpuJs, readonly mode: DeviceMode, readonly device: GpuDevice, private readonly kernelClass: Function) {
    this.name = `gpujs-${mode}`;
  }

  /** Throws, naming what is missing, when the mode cannot run here. */
  static async create(mode: DeviceMode): Promise<GpuJsDeviceBackend> {
    const device = mode === 'headlessgl' ? headlessGlDevice() : (await setUpWebGpu()).device;
    if (device.glContext) claimGlContext(device.glContext, `gpu.js ${mode} (${device.api})`);
    const lib = gpujs();
    if (mode === 'headlessgl' && !lib.GPU.isHeadlessGLSupported) throw new Error(`gpu.js finds no usable headless GL (${device.renderer})`);
    const gpu = new lib.GPU({ mode } as ConstructorParameters<typeof lib.GPU>[0]);
    const kernelClass = mode === 'headlessgl' ? lib.HeadlessGLKernel : (lib as unknown as { WebGPUKernel: Function }).WebGPUKernel;
    const backend = new GpuJsDeviceBackend(gpu, mode, device, kernelClass);
    if (mode === 'webgpu') GpuJsDeviceBackend.webGpuBackends++;
    try {
      // Prove the mode runs: a product and a loss on the device, read back.
      const a = backend.matrix(2, 2), s = backend.matrix(2, 2), bias = backend.matrix(1, 2);
      await backend.write(a, [1, 2, 3, 4]);
      await backend.gemm(a, false, a, false, s);
      const got = await backend.read(s);
      if (got.join() !== '7,10,15,22') throw new Error(`a 2×2 product gave ${got.join(', ')}`);
      const { correct } = await backend.softmaxLoss(s, bias, Uint8Array.of(1, 0));
      if (correct !== 1) throw new Error(`a 2-row softmax counted ${correct} correct rows, not 1`);
      backend.releaseAll();
    } catch (e) {
      await backend.dispose();
      throw new Error(`gpu.js ${mode} did not run on ${device.renderer}: ${(e as Error).message.split('\n')[0]}`);
    }
    return backend;
  }

  matrix(rows: number, cols: number): Matrix {
    if (!(rows > 0 && cols > 0)) throw new RangeError(`matrix: ${rows}×${cols}`);
    const m = new DeviceMatrix(rows, cols, this);
    this.live.add(m);
    return m;
  }

  private own(m: Matrix, what: string): DeviceMatrix {
    if (!(m instanceof DeviceMatrix) || m.owner !== this) throw new Error(`${what}: matrix not allocated by this backend`);
    if (m.released) throw new Error(`${what}: matrix was released (releaseAll)`);
    return m;
  }

  private kernel(spec: KernelSpec): IKernelRunShortcut {
    let k = this.kernels.get(spec.key);
    if (!k) {
      k = this.gpu.createKernel(spec.source as never, {
        output: spec.output, constants: spec.constants, pipeline: true, immutable: true, precision: 'single', tactic: 'precision',
      } as never) as IKernelRunShortcut;
      this.kernels.set(spec.key, k);
    }
    return k;
  }

  /** Runs a kernel on matrices (their device values; zeros made real), arrays (uploaded) and numbers. */
  private async run(spec: KernelSpec, args: Arg[]): Promise<Resident> {
    if (this.disposed) throw new Error(`${this.name}: backend disposed`);
    const values: unknown[] = [];
    for (const a of args) {
      values.push(a instanceof DeviceMatrix ? await this.valueOf(a) : a);
      if (a instanceof Float32Array) { this.stats.uploads++; this.stats.uploadFloats += a.length; }
    }
    const k = this.kernel(spec);
    this.stats.kernels++;
    const out = (await (k as unknown as (...v: unknown[]) => unknown)(...values)) as Resident;
    const ran = (k as unknown as { kernel: object }).kernel;
    if (!this.checked.has(ran)) {
      if (!(ran instanceof this.kernelClass)) throw new Error(`gpu.js ran ${spec.key} on ${ran.constructor.name}, not ${this.mode}`);
      this.checked.add(ran);
    }
    return out;
  }

  private async valueOf(m: DeviceMatrix): Promise<Resident> {
    m.value ??= await this.run(zeroSpec(m.rows, m.cols), []);
    return m.value;
  }

  /** out = kernel(args); `readsOut`: the kernel reads out's old values (else they are released first). */
  private async produce(out: DeviceMatrix, spec: KernelSpec, args: Arg[], readsOut: boolean): Promise<void> {
    if (!readsOut && out.value && !args.includes(out)) {
      out.value.delete();
      out.value = null;
    }
    const value = await this.run(spec, args);
    out.value?.delete();
    out.value = value;
  }

  gemm(a: Matrix, ta: boolean, b: Matrix, tb: boolean, c: Matrix, alpha = 1, beta = 0): Promise<void> {
    const [n, m, k] = gemmShape(a, ta, b, tb, c);
    const A = this.own(a, 'gemm a'), B = this.own(b, 'gemm b'), C = this.own(c, 'gemm c');
    return this.flush().then(() => {
      this.pending = { a: A, ta, b: B, tb, c: C, n, m, k, alpha, beta };
    });
  }

  /** Runs the deferred product with whatever epilogue joined it. */
  private async flush(): Promise<void> {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    const e: Epilogue = { beta: p.beta !== 0, biasRelu: !!p.bias, dropout: !!p.dropout, reluBackward: !!p.relu };
    const named: Record<string, Arg> = {
      c: p.c, bias: p.bias!, mask: p.dropout ? this.mask(p.n, p.m, p.dropout.seed, p.dropout.keep) : 0, h: p.relu?.h!,
      alpha: p.alpha, beta: p.beta, invKeep: p.dropout ? 1 / p.dropout.keep : 0, scale: p.relu?.scale ?? 1,
    };
    await this.produce(p.c, gemmSpec(p.ta, p.tb, p.n, p.m, p.k, e), [p.a, p.b, ...epilogueArgs(e).map((x) => named[x])], e.beta!);
  }

  private async elementwise(s: DeviceMatrix, e: Epilogue, named: Record<string, Arg>): Promise<void> {
    await this.flush();
    await this.produce(s, elementwiseSpec(s.rows, s.cols, e), [s, ...epilogueArgs(e).map((x) => named[x] ?? 1)], true);
  }

  async biasRelu(s: Matrix, bias: Matrix): Promise<void> {
    const S = this.own(s, 'biasRelu s'), b = this.own(bias, 'biasRelu bias');
    if (b.rows !== 1 || b.cols !== S.cols) throw new Error(`biasRelu: bias ${b.rows}×${b.cols} for ${S.rows}×${S.cols}`);
    const p = this.pending;
    if (p && p.c === S && !p.bias && !p.dropout && !p.relu) { p.bias = b; return; }
    await this.elementwise(S, { biasRelu: true }, { bias: b });
  }

  async dropout(h: Matrix, keep: number, seed: number): Promise<void> {
    const H = this.own(h, 'dropout h'), p = this.pending;
    if (p && p.c === H && !p.dropout && !p.relu) { p.dropout = { keep, seed }; return; }
    await this.elementwise(H, { dropout: true }, { mask: this.mask(H.rows, H.cols, seed, keep), invKeep: 1 / keep });
  }

  async reluBackward(g: Matrix, h: Matrix, scale = 1): Promise<void> {
    const G = this.own(g, 'reluBackward g'), H = this.own(h, 'reluBackward h');
    if (G.rows !== H.rows || G.cols !== H.cols) throw new Error(`reluBackward: ${G.rows}×${G.cols} and ${H.rows}×${H.cols}`);
    const p = this.pending;
    if (p && p.c === G && !p.bias && !p.dropout && !p.relu) { p.relu = { h: H, scale }; return; }
    await this.elementwise(G, { reluBackward: true }, { h: H, scale });
  }

  /** Dropout's keep bits of a rows × cols matrix (dropout-mask.ts's hash), MASK_BITS to a float, row by row. */
  private mask(rows: number, cols: number, seed: number, keep: number): Float32Array {
    const words = maskWords(cols), out = new Float32Array(rows * words), threshold = keepThreshold(keep);
    for (let i = 0; i < rows; i++) {
      for (let w = 0; w < words; w++) {
        let word = 0;
        for (let bit = Math.min(MASK_BITS, cols - w * MASK_BITS) - 1; bit >= 0; bit--) {
          word = word * 2 + (maskHash(seed, i * cols + w * MASK_BITS + bit) < threshold ? 1 : 0);
        }
        out[i * words + w] = word;
      }
    }
    return out;
  }

  /** Labels as floats for the kernels (rows beyond the labels given read as class 0). */
  private labels(labels: Labels, rows: number): Float32Array {
    const out = new Float32Array(rows);
    out.set(labels.length > rows ? labels.subarray(0, rows) : labels);
    return out;
  }

  /** A device value's floats on the host: rows of Float32Array, or one for a 1-D value. */
  private async fetch(value: Resident, floats: number): Promise<unknown> {
    this.stats.reads++;
    this.stats.readFloats += floats;
    return value.toArray();
  }

  private async lossSums(partials: Resident, rows: number): Promise<LossSums> {
    const blocks = (await this.fetch(partials, 2 * Math.ceil(rows / LOSS_BLOCK))) as Float32Array[];
    partials.delete();
    let lossSum = 0, correct = 0;
    for (const row of blocks) { lossSum += row[0]; correct += row[1]; }
    return { lossSum, correct: Math.round(correct) };
  }

  /** s's device value and its bias, checked, with any deferred product run. */
  private async logits(s: Matrix, bias: Matrix, what: string): Promise<[DeviceMatrix, DeviceMatrix]> {
    const S = this.own(s, `${what} s`), b = this.own(bias, `${what} bias`);
    if (b.rows !== 1 || b.cols !== S.cols) throw new Error(`${what}: bias ${b.rows}×${b.cols} for ${S.rows}×${S.cols}`);
    await this.flush();
    return [S, b];
  }

  async softmax(s: Matrix, bias: Matrix): Promise<void> {
    const [S, b] = await this.logits(s, bias, 'softmax');
    await this.produce(S, softmaxSpec(S.rows, S.cols, false), [S, b], true);
  }

  async softmaxLoss(s: Matrix, bias: Matrix, labels: Labels, rows = s.rows): Promise<LossSums> {
    const [S, b] = await this.logits(s, bias, 'softmaxLoss');
    return this.lossSums(await this.run(lossKernelSpec(S.rows, S.cols, false), [S, b, this.labels(labels, S.rows), Math.min(rows, S.rows)]), S.rows);
  }

  async softmaxGradient(s: Matrix, bias: Matrix, labels: Labels): Promise<void> {
    const [S, b] = await this.logits(s, bias, 'softmaxGradient');
    await this.produce(S, softmaxSpec(S.rows, S.cols, true), [S, b, this.labels(labels, S.rows)], true);
  }

  async crossEntropy(p: Matrix, labels: Labels, rows = p.rows): Promise<LossSums> {
    const P = this.own(p, 'crossEntropy p');
    await this.flush();
    return this.lossSums(await this.run(lossKernelSpec(P.rows, P.cols, true), [P, this.labels(labels, P.rows), Math.min(rows, P.rows)]), P.rows);
  }

  async columnSums(a: Matrix, out: Matrix, alpha: number, beta = 0): Promise<void> {
    const A = this.own(a, 'columnSums a'), O = this.own(out, 'columnSums out');
    if (O.rows !== 1 || O.cols !== A.cols) throw new Error(`columnSums: out ${O.rows}×${O.cols} for ${A.rows}×${A.cols}`);
    await this.flush();
    await this.produce(O, columnSumsSpec(A.rows, A.cols, beta !== 0), beta !== 0 ? [A, O, alpha, beta] : [A, alpha], beta !== 0);
  }

  async scaleAdd(y: Matrix, x: Matrix, alpha: number, beta: number): Promise<void> {
    const Y = this.own(y, 'scaleAdd y'), X = this.own(x, 'scaleAdd x');
    if (Y.rows !== X.rows || Y.cols !== X.cols) throw new Error(`scaleAdd: ${Y.rows}×${Y.cols} and ${X.rows}×${X.cols}`);
    await this.flush();
    await this.produce(Y, scaleAddSpec(Y.rows, Y.cols, beta !== 0), beta !== 0 ? [X, Y, alpha, beta] : [X, alpha], beta !== 0);
  }

  async sumSquares(a: Matrix): Promise<number> {
    const A = this.own(a, 'sumSquares a');
    await this.flush();
    const rows = await this.run(rowSquaresSpec(A.rows, A.cols), [A]);
    const values = (await this.fetch(rows, A.rows)) as Float32Array;
    rows.delete();
    let s = 0;
    for (const v of values) s += v;
    return s;
  }

  async sgdUpdate(w: Matrix, g: Matrix, eta: number, lambda: number, momentum: MomentumState): Promise<void> {
    const W = this.own(w, 'sgdUpdate w'), G = this.own(g, 'sgdUpdate g'), V = this.own(momentum.v, 'sgdUpdate v'), { mu, nesterov } = momentum;
    if (G.rows * G.cols !== W.rows * W.cols) throw new Error(`sgdUpdate: ${W.rows}×${W.cols} weights, ${G.rows}×${G.cols} gradient`);
    await this.flush();
    await this.produce(V, velocitySpec(W.rows, W.cols), [V, G, W, mu, 2 * lambda], true);
    await this.produce(W, momentumStepSpec(W.rows, W.cols, nesterov), [W, G, V, eta, mu, 2 * lambda], true);
  }

  /** Adam's update has no device kernel yet: it runs on the host (hostOps). */
  readonly hostOps = ['adamUpdate'] as const;
  private readonly host = new ReferenceBackend();

  /**
   * Runs `op` on float64 host copies of the matrices `args` (read from the device), then writes the host values of
   * the ones in `written` back: a round trip per call.
   */
  private async onHost(args: Matrix[], written: Matrix[], op: (host: HostMatrix[]) => void): Promise<void> {
    const copies: HostMatrix[] = [];
    for (const a of args) {
      const m = this.host.matrix(a.rows, a.cols);
      m.data.set(await this.read(a));
      copies.push(m);
    }
    op(copies);
    for (const w of written) await this.write(w, copies[args.indexOf(w)].data);
  }

  adamUpdate(w: Matrix, g: Matrix, eta: number, lambda: number, state: AdamState): Promise<void> {
    return this.onHost([w, g, state.m, state.v], [w, state.m, state.v], ([a, b, m, v]) => this.host.adamUpdate(a, b, eta, lambda, { ...state, m, v }));
  }

  /** Two 1 × cols device rows for batchNormBackward's column means (released with everything by releaseAll). */
  private columnRows(cols: number): [DeviceMatrix, DeviceMatrix] {
    let rows = this.scratchRows.get(cols);
    if (!rows || rows[0].released) this.scratchRows.set(cols, (rows = [this.own(this.matrix(1, cols), 'scratch'), this.own(this.matrix(1, cols), 'scratch')]));
    return rows;
  }
  private readonly scratchRows = new Map<number, [DeviceMatrix, DeviceMatrix]>();

  /** Checks that each row vector is 1 × cols. */
  private rowVectors(cols: number, what: string, ...vectors: Matrix[]): DeviceMatrix[] {
    return vectors.map((v) => {
      const V = this.own(v, what);
      if (V.rows !== 1 || V.cols !== cols) throw new Error(`${what}: a ${V.rows}×${V.cols} row vector for ${cols} columns`);
      return V;
    });
  }

  async batchStatistics(s: Matrix, mean: Matrix, variance: Matrix): Promise<void> {
    const S = this.own(s, 'batchStatistics s'), [M, V] = this.rowVectors(S.cols, 'batchStatistics', mean, variance);
    await this.flush();
    await this.produce(M, columnSumsSpec(S.rows, S.cols, false), [S, 1 / S.rows], false);
    await this.produce(V, columnVarianceSpec(S.rows, S.cols), [S, M], false);
  }

  async batchNormalize(s: Matrix, mean: Matrix, variance: Matrix, eps: number, out: Matrix): Promise<void> {
    const S = this.own(s, 'batchNormalize s'), O = this.own(out, 'batchNormalize out'), [M, V] = this.rowVectors(S.cols, 'batchNormalize', mean, variance);
    await this.flush();
    await this.produce(O, batchNormSpec('batchNormalize', S.rows, S.cols), [S, M, V, eps], false);
  }

  async affineRelu(x: Matrix, gamma: Matrix, beta: Matrix, out: Matrix): Promise<void> {
    const X = this.own(x, 'affineRelu x'), O = this.own(out, 'affineRelu out'), [G, B] = this.rowVectors(X.cols, 'affineRelu', gamma, beta);
    await this.flush();
    await this.produce(O, batchNormSpec('affineRelu', X.rows, X.cols), [X, G, B], false);
  }

  async columnDots(a: Matrix, b: Matrix, out: Matrix, alpha: number): Promise<void> {
    const A = this.own(a, 'columnDots a'), B = this.own(b, 'columnDots b'), [O] = this.rowVectors(A.cols, 'columnDots', out);
    await this.flush();
    await this.produce(O, columnDotsSpec(A.rows, A.cols), [A, B, alpha], false);
  }

  async scaleColumns(g: Matrix, gamma: Matrix): Promise<void> {
    const G = this.own(g, 'scaleColumns g'), [C] = this.rowVectors(G.cols, 'scaleColumns', gamma);
    await this.flush();
    await this.produce(G, batchNormSpec('scaleColumns', G.rows, G.cols), [G, C], true);
  }

  async batchNormBackward(g: Matrix, shat: Matrix, variance: Matrix, eps: number): Promise<void> {
    const G = this.own(g, 'batchNormBackward g'), H = this.own(shat, 'batchNormBackward shat'), [V] = this.rowVectors(G.cols, 'batchNormBackward', variance);
    const [meanG, meanGS] = this.columnRows(G.cols);
    await this.flush();
    await this.produce(meanG, columnSumsSpec(G.rows, G.cols, false), [G, 1 / G.rows], false);
    await this.produce(meanGS, columnDotsSpec(G.rows, G.cols), [G, H, 1 / G.rows], false);
    await this.produce(G, batchNormSpec('batchNormBackward', G.rows, G.cols), [G, H, V, meanG, meanGS, eps], true);
  }

  async gatherNormalized(records: Uint8Array, rows: ArrayLike<number>, count: number, mean: Float32Array, invStd: Float32Array, out: Matrix): Promise<void> {
    const O = this.own(out, 'gatherNormalized out'), d = O.cols;
    if (count > O.rows) throw new RangeError(`gatherNormalized: ${count} rows into a ${O.rows}-row matrix`);
    const x = this.stage(O.rows * d);
    for (let r = 0; r < count; r++) {
      const src = rows[r] * d, dst = r * d;
      if (src + d > records.length) throw new RangeError(`gatherNormalized: record ${rows[r]} out of range`);
      for (let k = 0; k < d; k++) x[dst + k] = (records[src + k] * (1 / 255) - mean[k]) * invStd[k];
    }
    await this.flush();
    if (count === O.rows) await this.produce(O, uploadSpec(O.rows, d, false), [x], false);
    else await this.produce(O, uploadSpec(O.rows, d, true), [x, O, count], true);
  }

  /** A host staging array of this size, reused (gpu.js copies it to the device during the call). */
  private stage(length: number): Float32Array {
    let s = this.staging.get(length);
    if (!s) this.staging.set(length, (s = new Float32Array(length)));
    return s;
  }

  async read(a: Matrix): Promise<Float64Array> {
    const A = this.own(a, 'read');
    await this.flush();
    const out = new Float64Array(A.rows * A.cols);
    if (!A.value) return out;
    const rows = (await this.fetch(A.value, A.rows * A.cols)) as Float32Array[];
    for (let i = 0; i < A.rows; i++) out.set(rows[i].subarray(0, A.cols), i * A.cols);
    return out;
  }

  async write(a: Matrix, values: ArrayLike<number>): Promise<void> {
    const A = this.own(a, 'write'), n = A.rows * A.cols;
    if (values.length !== n) throw new Error(`write: expected ${n} values, got ${values.length}`);
    const x = this.stage(n);
    for (let i = 0; i < n; i++) x[i] = values[i];
    await this.flush();
    await this.produce(A, uploadSpec(A.rows, A.cols, false), [x], false);
  }

  releaseAll(): void {
    this.pending = null;
    for (const m of this.live) {
      m.value?.delete();
      m.value = null;
      m.released = true;
    }
    this.live.clear();
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.releaseAll();
    this.disposed = true;
    for (const k of this.kernels.values()) (k as unknown as { destroy?: () => void }).destroy?.();
    this.kernels.clear();
    this.gpu.destroy();
    if (this.mode === 'webgpu' && --GpuJsDeviceBackend.webGpuBackends === 0) await gpujs().WebGPUContext.destroy();
  }
}
