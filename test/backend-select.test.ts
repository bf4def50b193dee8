/**
 * `auto`'s choice and its reasons: a GPU backend only on hardware and only where a timed probe finds it faster than
 * the CPU pick (fake GPUs make the choice deterministic), the real check on this machine's renderers, and the run's
 * start line and summary.json saying which backend ran and why each other one was passed over.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BATCH_NORM_OPS, type KernelBackend } from '../src/kernels/backend.js';
import type { DeviceMode } from '../src/kernels/gpujs-device.js';
import { ReferenceBackend } from '../src/kernels/reference.js';
import { backendChoice, selectBackend, type AutoEnvironment, type StepShape } from '../src/kernels/select.js';
import type { GpuDevice } from '../src/kernels/software-renderer.js';
import { softwareRendererIn } from '../src/kernels/software-renderer.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

/** A stand-in GPU backend: the reference backend under a GPU name, on a named device. */
function fakeGpu(mode: DeviceMode, renderer: string, disposed: string[]): KernelBackend & { device: GpuDevice } {
  const b = new ReferenceBackend();
  return Object.assign(Object.create(b), {
    name: `gpujs-${mode}`,
    device: { api: 'fake', renderer, software: softwareRendererIn(renderer) },
    dispose: () => { disposed.push(`gpujs-${mode}`); },
  });
}

/** Auto's environment with GPU device nodes, these renderers, and these step times (the CPU pick's: `cpu`). */
function environment(renderers: Partial<Record<DeviceMode, string>>, millis: Record<string, number>, disposed: string[]): Partial<AutoEnvironment> & { probed: string[]; loaded: string[] } {
  const probed: string[] = [], loaded: string[] = [];
  return {
    probed,
    loaded,
    gpuDeviceNodes: () => ['/dev/dri/renderD128'],
    probeGpu: async (mode) => {
      const r = renderers[mode];
      if (!r) throw new Error(`${mode} does not load in this test`);
      return fakeGpu(mode, r, []).device;
    },
    loadGpu: async (mode) => {
      loaded.push(mode);
      return fakeGpu(mode, renderers[mode]!, disposed);
    },
    stepMillis: async (b: KernelBackend, shape: StepShape) => {
      probed.push(`${b.name}@${shape.n}x${shape.m}`);
      return millis[b.name] ?? millis.cpu;
    },
  };
}

const shape = { n: 500, d: 3072, m: 1000, k: 10 };

describe('auto: GPU backends only on hardware and only where faster', () => {
  it('does not even load a GPU backend on a Linux machine without GPU device nodes', async () => {
    let loads = 0;
    const { backend, skipped, device } = await selectBackend('auto', 1, {
      shape, environment: { gpuDeviceNodes: () => [], loadGpu: async () => { loads++; throw new Error('unexpected'); } },
    });
    try {
      expect(backend.name).not.toMatch(/^gpujs-(webgpu|headlessgl)$/);
      expect(device).toBeUndefined();
      expect(loads).toBe(0);
      expect(skipped.filter((s) => s.name === 'webgpu' || s.name === 'headlessgl').map((s) => s.reason)).toEqual([
        expect.stringMatching(/no GPU device here/), expect.stringMatching(/no GPU device here/),
      ]);
    } finally {
      await backend.dispose();
    }
  });

  it('passes over software renderers without loading or timing them', async () => {
    const disposed: string[] = [];
    const env = environment({ webgpu: 'OpenGL version 4.5 (Core Profile) Mesa 22.3.6, llvmpipe-llvm-15-0-6-256-bits-', headlessgl: 'ANGLE (Google, SwiftShader Device)' }, { 'gpujs-webgpu': 0.1, cpu: 50 }, disposed);
    const s = await selectBackend('auto', 1, { shape, environment: env });
    try {
      expect(s.backend.name).not.toMatch(/^gpujs-/);
      expect(env.probed).toEqual([]);
      expect(env.loaded).toEqual([]);
      expect(s.skipped.find((x) => x.name === 'webgpu')!.reason).toMatch(/^software renderer \(.*llvmpipe/);
      expect(s.skipped.find((x) => x.name === 'headlessgl')!.reason).toMatch(/^software renderer \(.*SwiftShader/);
    } finally {
      await s.backend.dispose();
    }
  });

  it('chooses the fastest hardware GPU when it beats the CPU at the run\'s shapes, and says why the others lost', async () => {
    const disposed: string[] = [];
    const env = environment({ webgpu: 'NVIDIA H100 (Vulkan)', headlessgl: 'ANGLE (NVIDIA H100 OpenGL 4.6)' },
      { 'gpujs-webgpu': 2, 'gpujs-headlessgl': 5, cpu: 40 }, disposed);
    const s = await selectBackend('auto', 1, { shape, environment: env });
    expect(s.backend.name).toBe('gpujs-webgpu');
    expect(s.device?.renderer).toBe('NVIDIA H100 (Vulkan)');
    const cpu = env.probed[0].split('@')[0];
    expect(cpu).not.toMatch(/^gpujs-(webgpu|headlessgl)$/);
    expect(env.probed).toEqual([`${cpu}@500x1000`, 'gpujs-webgpu@500x1000', 'gpujs-headlessgl@500x1000']);
    expect(disposed).toEqual(['gpujs-headlessgl']);
    const why = s.skipped.map((x) => `${x.name}: ${x.reason}`);
    expect(why).toContainEqual(expect.stringMatching(/^[\w-]+: slower than webgpu at batch 500, 3072-1000-10: 40\.0 ms vs 2\.00 ms per step$/));
    expect(why).toContain('headlessgl: slower than webgpu at batch 500, 3072-1000-10: 5.00 ms vs 2.00 ms per step (on ANGLE (NVIDIA H100 OpenGL 4.6))');
    expect(backendChoice('auto', s)).toEqual({ requested: 'auto', backend: 'gpujs-webgpu', device: s.device, passedOver: s.skipped });
  });

  it('passes over a GPU backend that runs ops the network needs on the host (batch norm on the gpu.js device modes)', async () => {
    const disposed: string[] = [];
    const env = environment({ webgpu: 'NVIDIA H100 (Vulkan)' }, { 'gpujs-webgpu': 2, cpu: 40 }, disposed);
    const hostly = env.loadGpu!;
    env.loadGpu = async (mode) => Object.assign(await hostly(mode), { hostOps: BATCH_NORM_OPS });
    const s = await selectBackend('auto', 1, { shape: { ...shape, needs: BATCH_NORM_OPS }, environment: env });
    try {
      expect(s.backend.name).not.toMatch(/^gpujs-/);
      expect(disposed).toEqual(['gpujs-webgpu']);
      expect(env.probed).toEqual([]);
      expect(s.skipped.find((x) => x.name === 'webgpu')!.reason).toMatch(/^runs batchStatistics, .* on the host .* which this network needs$/);
    } finally {
      await s.backend.dispose();
    }
    const plain = await selectBackend('auto', 1, { shape, environment: environment({ webgpu: 'NVIDIA H100 (Vulkan)' }, { 'gpujs-webgpu': 2, cpu: 40 }, []) });
    expect(plain.backend.name).toBe('gpujs-webgpu'); // the same backend, for a network without batch norm
    await plain.backend.dispose();
  });

  it('keeps the CPU when the hardware GPU is slower there (small networks), and when a GPU backend does not load', async () => {
    const disposed: string[] = [];
    const env = environment({ webgpu: 'AMD Radeon RX 7900 (RADV NAVI31)' }, { 'gpujs-webgpu': 9, cpu: 1.5 }, disposed);
    const s = await selectBackend('auto', 1, { shape: { n: 100, d: 3072, m: 50, k: 10 }, environment: env });
    try {
      expect(s.backend.name).not.toMatch(/^gpujs-/);
      expect(disposed).toEqual(['gpujs-webgpu']);
      const why = Object.fromEntries(s.skipped.map((x) => [x.name, x.reason]));
      expect(why.webgpu).toMatch(/^slower than [\w-]+ at batch 100, 3072-50-10: 9\.00 ms vs 1\.50 ms per step \(on AMD Radeon RX 7900 \(RADV NAVI31\)\)$/);
      expect(why.headlessgl).toBe('headlessgl does not load in this test');
    } finally {
      await s.backend.dispose();
    }
  });
});

describe('auto on this machine\'s real renderers', () => {
  it('looks at each GPU mode\'s renderer where it can and passes it over as software (CI: Mesa llvmpipe under Xvfb)', async () => {
    // Pretend a GPU device node exists, so that auto really loads the GPU modes and looks at their renderers.
    const s = await selectBackend('auto', 1, { environment: { gpuDeviceNodes: () => ['/dev/dri/renderD128'] } });
    try {
      expect(s.backend.name).not.toMatch(/^gpujs-/);
      const gpu = s.skipped.filter((x) => x.name === 'webgpu' || x.name === 'headlessgl');
      expect(gpu.map((g) => g.name)).toEqual(['webgpu', 'headlessgl']);
      for (const g of gpu) {
        // CI has Xvfb and Mesa: both reach llvmpipe. Elsewhere a mode may not load at all: then its reason says why.
        if (process.env.CI === 'true') expect(g.reason, g.name).toMatch(/^software renderer \(.*llvmpipe/);
        else expect(g.reason, g.name).toMatch(/^software renderer \(.*(llvmpipe|lavapipe|SwiftShader|softpipe)|no X display|not installed|no WebGPU adapter|does not load/);
      }
    } finally {
      await s.backend.dispose();
    }
  }, 120_000);
});

describe('the run says which backend ran and why the others were passed over', () => {
  const root = mkdtempSync(join(tmpdir(), 'cifar-select-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('on the start line and in summary.json', async () => {
    const data = writeSyntheticCifar(join(root, 'data'), 30, 90);
    const out = join(root, 'run');
    const args = [resolve('dist/cli.js'), 'run', 'config/cycle1.yaml', '--data', data, '--out', out,
      '--set', 'schedule.ns=2', '--set', 'model.hidden=8', '--set', 'train.batchSize=10'];
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((done) => {
      const child = spawn(process.execPath, args, { env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d) => { err += d; });
      child.on('close', (c) => done({ code: c, stderr: err }));
    });
    expect(code, stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    const choice = summary.backendChoice;
    expect(choice.requested).toBe('auto');
    expect(choice.backend).toBe(summary.backend);
    expect(choice.backend).not.toMatch(/^gpujs-(webgpu|headlessgl)$/);
    const gpu = choice.passedOver.filter((x: { name: string }) => x.name === 'webgpu' || x.name === 'headlessgl');
    expect(gpu).toHaveLength(2);
    const start = stderr.split('\n').find((l) => l.includes('; passed over: '))!;
    expect(start).toContain(`backend ${choice.backend} (`);
    for (const g of gpu) expect(start).toContain(g.reason);
  }, 120_000);
});
