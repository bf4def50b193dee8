/**
 * WebGPU for gpu.js under Node: gpu.js looks for a browser's `navigator.gpu`; Node has none, so this module
 * creates one from Dawn (the `webgpu` package) and installs it with the WebGPU classes as globals.
 *
 * Dawn picks its backend (Vulkan, OpenGL, OpenGL ES) from a flag given when its instance is created, and a
 * backend only offers an adapter at a feature level it can honour; so each candidate below is tried in turn and
 * the first that yields an adapter wins:
 *   1. Vulkan, core features: the native path of real GPUs on Linux.
 *   2. Vulkan, compatibility mode: older Vulkan drivers that lack a core feature.
 *   3. OpenGL, compatibility mode: a GPU's (or Mesa's software) desktop GL driver; Dawn's GL backend offers only
 *      compatibility mode, and reaches Mesa without a display through EGL's surfaceless platform.
 *   4. OpenGL ES, compatibility mode.
 * Vulkan is skipped without a Vulkan loader (libvulkan.so.1), OpenGL without libEGL.so (Dawn loads that name, which
 * Debian's libegl-dev provides): that spares warnings from Dawn and names the missing package.
 * The user needs no environment variable: EGL_PLATFORM=surfaceless is set here unless already set.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { glContextUser } from './gl-context.js';
import { softwareRendererIn, type GpuDevice } from './software-renderer.js';

interface Candidate {
  backend: 'vulkan' | 'opengl' | 'opengles';
  featureLevel: 'core' | 'compatibility';
}

const CANDIDATES: Candidate[] = [
  { backend: 'vulkan', featureLevel: 'core' },
  { backend: 'vulkan', featureLevel: 'compatibility' },
  { backend: 'opengl', featureLevel: 'compatibility' },
  { backend: 'opengles', featureLevel: 'compatibility' },
];

export interface WebGpuSetup {
  device: GpuDevice;
  backend: Candidate['backend'];
  featureLevel: Candidate['featureLevel'];
  /** What each candidate before the chosen one answered. */
  tried: string[];
}

let setup: Promise<WebGpuSetup> | null = null;

/** Sets up navigator.gpu once per process; rejects with every candidate's answer when none gives an adapter. */
export function setUpWebGpu(): Promise<WebGpuSetup> {
  setup ??= install().catch((e) => {
    setup = null;
    throw e;
  });
  return setup;
}

/** The directories the dynamic loader searches (enough to tell whether a library is installed). */
function libraryDirs(): string[] {
  const triplet = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[process.arch as string] ?? '';
  const dirs = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  try {
    for (const f of readdirSync('/etc/ld.so.conf.d')) {
      for (const line of readFileSync(`/etc/ld.so.conf.d/${f}`, 'utf8').split('\n')) if (line.startsWith('/')) dirs.push(line.trim());
    }
  } catch { /* no ld.so.conf.d */ }
  return [...dirs, `/usr/lib/${triplet}`, `/lib/${triplet}`, '/usr/lib64', '/lib64', '/usr/lib', '/lib', '/usr/local/lib'];
}

export function hasLibrary(name: string): boolean {
  return libraryDirs().some((d) => existsSync(`${d}/${name}`));
}

async function install(): Promise<WebGpuSetup> {
  let dawn: typeof import('webgpu');
  try {
    dawn = await import('webgpu');
  } catch (e) {
    throw new Error(`the webgpu package (Dawn) does not load here: ${(e as Error).message.split('\n')[0]}`);
  }
  process.env.EGL_PLATFORM ??= 'surfaceless';
  const tried: string[] = [];
  for (const c of CANDIDATES) {
    const label = `${c.backend} (${c.featureLevel})`;
    const glx = glContextUser('GLX');
    if (c.backend !== 'vulkan' && glx) {
      tried.push(`${label}: ${glx} holds this thread's GL context (GLX), and Dawn's OpenGL backends need EGL`);
      continue;
    }
    if (c.backend !== 'vulkan' && process.platform === 'linux' && !hasLibrary('libEGL.so')) {
      if (!tried.some((t) => t.startsWith('opengl'))) tried.push('opengl, opengles: no libEGL.so, which Dawn loads (Debian: libegl-dev libegl-mesa0 libgl1-mesa-dri)');
      continue;
    }
    if (c.backend === 'vulkan' && process.platform === 'linux' && !hasLibrary('libvulkan.so.1')) {
      if (!tried.some((t) => t.startsWith('vulkan'))) tried.push('vulkan: no Vulkan loader (libvulkan.so.1)');
      continue;
    }
    let adapter: GPUAdapter | null = null;
    let gpu: GPU;
    try {
      gpu = dawn.create([`backend=${c.backend}`]);
      adapter = await gpu.requestAdapter({ featureLevel: c.featureLevel, powerPreference: 'high-performance' } as GPURequestAdapterOptions);
    } catch (e) {
      tried.push(`${label}: ${(e as Error).message.split('\n')[0]}`);
      continue;
    }
    if (!adapter) {
      tried.push(`${label}: no adapter`);
      continue;
    }
    const info = adapter.info;
    const renderer = [info.description, info.device, info.vendor, info.architecture].filter(Boolean).join(', ');
    const software = softwareRendererIn(renderer) ?? ((info as { isFallbackAdapter?: boolean }).isFallbackAdapter ? 'fallback adapter' : null);
    installNavigatorGpu(gpu!, adapter, { featureLevel: c.featureLevel, powerPreference: 'high-performance' }, dawn.globals as Record<string, unknown>);
    return {
      device: {
        api: `WebGPU (Dawn ${c.backend} backend${c.featureLevel === 'compatibility' ? ', compatibility mode' : ''})`, renderer, software,
        ...(c.backend === 'vulkan' ? {} : { glContext: 'EGL' as const }),
      },
      backend: c.backend,
      featureLevel: c.featureLevel,
      tried,
    };
  }
  throw new Error(`no WebGPU adapter: ${tried.join('; ')}`);
}

/**
 * navigator.gpu as gpu.js expects it: requestAdapter() without options must return an adapter of the Dawn
 * instance and feature level found above. The first call gets the adapter found (each adapter request makes Dawn's
 * OpenGL backend print its warnings again); gpu.js asks again after every device teardown, and then Dawn answers.
 */
function installNavigatorGpu(gpu: GPU, found: GPUAdapter, options: Record<string, string>, globals: Record<string, unknown>): void {
  let spare: GPUAdapter | null = found;
  for (const [name, value] of Object.entries(globals)) {
    if (!(name in globalThis)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  }
  const wrapped = {
    requestAdapter: async (o?: GPURequestAdapterOptions) => {
      const first = spare;
      spare = null;
      return first && !o ? first : gpu.requestAdapter({ ...options, ...(o ?? {}) } as GPURequestAdapterOptions);
    },
    getPreferredCanvasFormat: () => gpu.getPreferredCanvasFormat(),
    get wgslLanguageFeatures() { return gpu.wgslLanguageFeatures; },
  };
  const g = globalThis as { navigator?: object };
  if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: wrapped, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu: wrapped }, configurable: true, writable: true });
}
