/**
 * gpu.js backend: the products run as gpu.js kernels (one per layout and shape, built on first use);
 * the element-wise ops are HostBackend's loops on the returned float32 arrays. Runs on every gpu.js mode: the CPU
 * modes webasm (WebAssembly SIMD) and cpu, which `--backend webasm|cpu` select, and the GPU modes headlessgl and
 * webgpu with a host round trip per product (`--backend headlessgl|webgpu` select gpujs-device.ts instead, which
 * keeps the data on the device; this one stays as the simplest check that a GPU mode computes at all).
 */
import { GPU, HeadlessGLKernel, type IKernelRunShortcut } from 'gpu.js';
import { setUpWebGpu } from './webgpu-setup.js';
import type { HostMatrix, Matrix } from './backend.js';
import { HostBackend } from './host-backend.js';

export type GpuJsMode = 'headlessgl' | 'webgpu' | 'webasm' | 'cpu';

type GemmKernel = IKernelRunShortcut;

// out[i][j] = Σ_p A(i,p) B(p,j) over flat row-major inputs; the four layouts differ only in indexing.
function nn(this: any, a: number[], b: number[]) {
  const i = Math.floor(this.thread.x / this.constants.m), j = this.thread.x % this.constants.m;
  let s = 0;
  for (let p = 0; p < this.constants.k; p++) s += a[i * this.constants.k + p] * b[p * this.constants.m + j];
  return s;
}
function nt(this: any, a: number[], b: number[]) {
  const i = Math.floor(this.thread.x / this.constants.m), j = this.thread.x % this.constants.m;
  let s = 0;
  for (let p = 0; p < this.constants.k; p++) s += a[i * this.constants.k + p] * b[j * this.constants.k + p];
  return s;
}
function tn(this: any, a: number[], b: number[]) {
  const i = Math.floor(this.thread.x / this.constants.m), j = this.thread.x % this.constants.m;
  let s = 0;
  for (let p = 0; p < this.constants.k; p++) s += a[p * this.constants.n + i] * b[p * this.constants.m + j];
  return s;
}
function tt(this: any, a: number[], b: number[]) {
  const i = Math.floor(this.thread.x / this.constants.m), j = this.thread.x % this.constants.m;
  let s = 0;
  for (let p = 0; p < this.constants.k; p++) s += a[p * this.constants.n + i] * b[j * this.constants.k + p];
  return s;
}
const layouts = { nn, nt, tn, tt };

/** The gpu.js mode a kernel ran in. gpu.js names a headless-GL kernel's mode 'gpu' (as its WebGL kernels'). */
export function modeThatRan(kernel: IKernelRunShortcut | undefined): string | undefined {
  const ran = (kernel as { kernel?: { constructor: { mode?: string } } } | undefined)?.kernel;
  if (!ran) return undefined;
  return ran instanceof HeadlessGLKernel ? 'headlessgl' : ran.constructor.mode;
}

export class GpuJsBackend extends HostBackend {
  readonly dtype = 'float32' as const;
  readonly name: string;
  private readonly kernels = new Map<string, GemmKernel>();

  private constructor(private readonly gpu: GPU, readonly mode: GpuJsMode, readonly threads: number, private readonly asyncMode: boolean) {
    super();
    this.name = `gpujs-${mode}`;
  }

  /** Throws when the mode does not load on this machine. */
  static async create(mode: GpuJsMode, opts: { threads?: number } = {}): Promise<GpuJsBackend> {
    if (mode === 'webgpu') await setUpWebGpu(); // navigator.gpu from Dawn
    const supported = {
      headlessgl: async () => GPU.isHeadlessGLSupported,
      webgpu: async () => Boolean(await (GPU as any).isWebGPUAvailable?.()),
      webasm: async () => (GPU as any).isWebAssemblySupported,
      cpu: async () => true,
    }[mode];
    if (!(await supported().catch(() => false))) throw new Error(`gpu.js ${mode} is not supported on this machine`);
    const threaded = mode === 'webasm' && (opts.threads ?? 1) > 1;
    const gpu = new GPU({ mode: mode as any, ...(threaded ? { poolSize: opts.threads } : {}) } as any);
    const backend = new GpuJsBackend(gpu, mode, threaded ? opts.threads! : 1, threaded || mode === 'webgpu');
    // Prove the mode really runs (gpu.js may silently degrade to cpu).
    const probe = backend.matrix(2, 2);
    backend.write(probe, [1, 2, 3, 4]);
    const out = backend.matrix(2, 2);
    await backend.gemm(probe, false, probe, false, out);
    const ranMode = modeThatRan(backend.kernels.values().next().value);
    if (out.data[0] !== 7 || (ranMode && ranMode !== mode)) {
      backend.dispose();
      throw new Error(`gpu.js ${mode} did not run (ran ${ranMode ?? 'unknown'})`);
    }
    return backend;
  }

  matrix(rows: number, cols: number): HostMatrix {
    return { rows, cols, data: new Float32Array(rows * cols) };
  }

  private kernel(layout: keyof typeof layouts, n: number, m: number, k: number): GemmKernel {
    const key = `${layout}:${n}:${m}:${k}`;
    let kernel = this.kernels.get(key);
    if (!kernel) {
      kernel = this.gpu.createKernel(layouts[layout] as any, {
        output: [n * m],
        constants: { n, m, k },
        precision: 'single',
        tactic: 'precision',
        ...(this.asyncMode ? { asyncMode: true } : {}),
      } as any) as GemmKernel;
      this.kernels.set(key, kernel);
    }
    return kernel;
  }

  async gemm(a: Matrix, ta: boolean, b: Matrix, tb: boolean, c: Matrix, alpha = 1, beta = 0): Promise<void> {
    const [n, m, k] = this.gemmShape(a, ta, b, tb, c);
    const layout = `${ta ? 't' : 'n'}${tb ? 't' : 'n'}` as keyof typeof layouts;
    const result = (await (this.kernel(layout, n, m, k) as any)(this.data(a, 'gemm a'), this.data(b, 'gemm b'))) as Float32Array;
    const out = this.data(c, 'gemm c');
    for (let i = 0; i < n * m; i++) out[i] = alpha * result[i] + (beta === 0 ? 0 : beta * out[i]);
  }

  releaseAll(): void {} // matrices are garbage-collected arrays; the compiled kernels stay for the next run

  dispose(): void {
    for (const k of this.kernels.values()) (k as any).destroy?.();
    this.kernels.clear();
    this.gpu.destroy();
  }
}
