/**
 * Run-time backend selection, with the reason each backend not chosen was passed over (the run's start line and
 * summary.json show them).
 *
 * `auto` takes the first CPU backend that loads (CPU_ORDER: the machine's BLAS, then wasm-simd, then gpu.js webasm and
 * cpu), then considers the GPU modes of gpu.js: a GPU backend
 * wins only on real hardware (a software renderer such as Mesa's llvmpipe runs the kernels correctly but slowly)
 * and only where a short timed probe of training steps at the run's shapes finds it faster than the CPU pick.
 * On Linux a machine without GPU device nodes (/dev/dri, /dev/nvidia*) can only offer software renderers, so the
 * GPU modes are not even loaded there.
 */
import { readdirSync } from 'node:fs';
import type { KernelBackend } from './backend.js';
import { GpuJsBackend } from './gpujs.js';
import type { DeviceMode } from './gpujs-device.js';
import { ReferenceBackend } from './reference.js';
import type { GpuDevice } from './software-renderer.js';
import type { BackendName } from './names.js';

export { BACKEND_NAMES, type BackendName } from './names.js';

/** CPU backends, fastest first: auto takes the first that loads. */
export const CPU_ORDER: Exclude<BackendName, 'auto' | 'reference' | DeviceMode>[] = ['blas', 'wasm-simd', 'webasm', 'cpu'];
/** GPU backends auto considers (each only on hardware and where faster): WebGPU's compute shaders before WebGL 1. */
export const GPU_CANDIDATES: DeviceMode[] = ['webgpu', 'headlessgl'];

/** The shapes of a training step: batch rows n, input d, hidden m, classes k. */
export interface StepShape {
  n: number;
  d: number;
  m: number;
  k: number;
  /** Ops the run needs beyond the two-layer step's (batch norm's): a backend that runs any of them on the host is passed over. */
  needs?: readonly (keyof KernelBackend)[];
}
export const DEFAULT_SHAPE: StepShape = { n: 100, d: 3072, m: 50, k: 10 };

export interface Selection {
  backend: KernelBackend;
  /** Why each backend not chosen was passed over (auto), in the order considered. */
  skipped: { name: string; reason: string }[];
  /** The device a GPU backend runs on. */
  device?: GpuDevice;
}

/** The record of a choice that summary.json keeps. */
export interface BackendChoice {
  requested: BackendName;
  backend: string;
  device?: GpuDevice;
  passedOver: { name: string; reason: string }[];
  /** A resumed run that was let switch backends (`--switch-backend`): the backends it trained on before, in order. */
  earlier?: { backend: string; untilStep: number }[];
}

export function backendChoice(requested: BackendName, s: Selection): BackendChoice {
  return { requested, backend: s.backend.name, ...(s.device ? { device: s.device } : {}), passedOver: s.skipped };
}

/** What auto asks of the machine; tests replace parts of it. */
export interface AutoEnvironment {
  /** GPU device nodes present (Linux); null where the platform has no such nodes to look at. */
  gpuDeviceNodes(): string[] | null;
  /** The device a GPU mode would run on, without building a backend (no kernels, no device memory). */
  probeGpu(mode: DeviceMode): Promise<GpuDevice>;
  loadGpu(mode: DeviceMode): Promise<KernelBackend & { device: GpuDevice }>;
  /** Milliseconds per training step of this backend at these shapes: the caller's speed probe (model/speed-probe.ts). */
  stepMillis(backend: KernelBackend, shape: StepShape): Promise<number>;
}

export interface SelectOptions {
  /** The run's step shapes, for the speed probe (default: the report's network). */
  shape?: StepShape;
  environment?: Partial<AutoEnvironment>;
}

async function probeDevice(mode: DeviceMode): Promise<GpuDevice> {
  if (mode === 'headlessgl') return (await import('./headless-gl-setup.js')).headlessGlDevice();
  return (await (await import('./webgpu-setup.js')).setUpWebGpu()).device;
}

async function loadDevice(mode: DeviceMode) {
  const { GpuJsDeviceBackend } = await import('./gpujs-device.js');
  return GpuJsDeviceBackend.create(mode);
}

async function load(name: Exclude<BackendName, 'auto'>, threads: number): Promise<KernelBackend> {
  switch (name) {
    case 'reference':
      return new ReferenceBackend();
    case 'blas': {
      const { BlasBackend } = await import('./blas.js');
      return BlasBackend.create({ threads });
    }
    case 'wasm-simd': {
      const { WasmSimdBackend } = await import('./wasm-simd.js');
      return WasmSimdBackend.create({ threads });
    }
    case 'headlessgl':
    case 'webgpu':
      return loadDevice(name);
    default:
      return GpuJsBackend.create(name, { threads });
  }
}

function gpuDeviceNodes(): string[] | null {
  if (process.platform !== 'linux') return null;
  const nodes: string[] = [];
  for (const dir of ['/dev/dri', '/dev']) {
    try {
      for (const f of readdirSync(dir)) {
        if ((dir === '/dev/dri' && /^(renderD|card)\d+$/.test(f)) || (dir === '/dev' && /^(nvidia\d+|dxg|kfd)$/.test(f))) nodes.push(`${dir}/${f}`);
      }
    } catch { /* no such directory */ }
  }
  return nodes;
}

/** Without a speed probe from the caller, auto does not time GPUs against the CPU pick: it keeps the CPU pick. */
const noProbe = (): Promise<number> => Promise.reject(new Error('no speed probe of the run was given'));

const defaults: AutoEnvironment = { gpuDeviceNodes, probeGpu: probeDevice, loadGpu: loadDevice, stepMillis: noProbe };

/** The backend `name` with `threads` threads in all (≥ 1; resolved from kernels.threads by the run plan). */
export async function selectBackend(name: BackendName, threads: number, opts: SelectOptions = {}): Promise<Selection> {
  const t = Math.max(1, Math.floor(threads));
  if (name !== 'auto') {
    try {
      const backend = await load(name, t);
      const device = (backend as { device?: GpuDevice }).device;
      return { backend, skipped: [], ...(device ? { device } : {}) };
    } catch (e) {
      throw new Error(`kernel backend ${name} is not available here: ${(e as Error).message}`);
    }
  }
  return selectAuto(t, opts.shape ?? DEFAULT_SHAPE, { ...defaults, ...opts.environment });
}

const fmtShape = (s: StepShape) => `batch ${s.n}, ${s.d}-${s.m}-${s.k}`;

async function selectAuto(threads: number, shape: StepShape, env: AutoEnvironment): Promise<Selection> {
  const skipped: Selection['skipped'] = [];
  let cpu: { name: BackendName; backend: KernelBackend } | null = null;
  for (const name of CPU_ORDER) {
    try {
      cpu = { name, backend: await load(name, threads) };
      break;
    } catch (e) {
      skipped.push({ name, reason: (e as Error).message });
    }
  }
  if (!cpu) throw new Error(`no kernel backend loads here: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);

  const nodes = env.gpuDeviceNodes();
  if (nodes && nodes.length === 0) {
    for (const mode of GPU_CANDIDATES) skipped.push({ name: mode, reason: 'no GPU device here (no /dev/dri/*, /dev/nvidia*): only a software renderer could run it' });
    return { backend: cpu.backend, skipped };
  }
  // First what each GPU mode would run on (cheap: no kernels, no device memory), so software renderers never load.
  const hardware: DeviceMode[] = [];
  for (const mode of GPU_CANDIDATES) {
    try {
      const device = await env.probeGpu(mode);
      if (device.software) skipped.push({ name: mode, reason: `software renderer (${device.renderer}): it computes correctly but on the CPU, slower than the CPU backends` });
      else hardware.push(mode);
    } catch (e) {
      skipped.push({ name: mode, reason: (e as Error).message });
    }
  }
  // Then a timed probe of each hardware GPU against the CPU pick.
  const timed: { name: BackendName; backend: KernelBackend; device?: GpuDevice; ms: number }[] = [];
  for (const mode of hardware) {
    let gpu: KernelBackend & { device: GpuDevice };
    try {
      gpu = await env.loadGpu(mode);
    } catch (e) {
      skipped.push({ name: mode, reason: (e as Error).message });
      continue;
    }
    const onHost = gpu.hostOps?.filter((op) => shape.needs?.includes(op)) ?? [];
    if (onHost.length) {
      skipped.push({ name: mode, reason: `runs ${onHost.join(', ')} on the host (a device round trip per call), which this network needs` });
      await gpu.dispose();
      continue;
    }
    try {
      if (timed.length === 0) timed.push({ ...cpu, ms: await env.stepMillis(cpu.backend, shape) });
      timed.push({ name: mode, backend: gpu, device: gpu.device, ms: await env.stepMillis(gpu, shape) });
    } catch (e) {
      skipped.push({ name: mode, reason: `failed its speed probe: ${(e as Error).message.split('\n')[0]}` });
      await gpu.dispose();
    }
  }
  if (timed.length === 0) return { backend: cpu.backend, skipped };
  const ms = (x: number) => `${x.toFixed(x < 10 ? 2 : 1)} ms`;
  const best = timed.reduce((a, b) => (b.ms < a.ms ? b : a)); // the CPU pick, first, wins ties
  for (const t of timed) {
    if (t === best) continue;
    skipped.push({ name: t.name, reason: `slower than ${best.name} at ${fmtShape(shape)}: ${ms(t.ms)} vs ${ms(best.ms)} per step${t.device ? ` (on ${t.device.renderer})` : ''}` });
    await t.backend.dispose();
  }
  return { backend: best.backend, skipped, ...(best.device ? { device: best.device } : {}) };
}
