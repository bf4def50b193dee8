/**
 * Can gpu.js's headlessgl mode run here, and on what? It needs the optional `gl` package, built on request (`npm ci`
 * leaves it unbuilt: docs/gpu.md) where Debian's build-essential python3 pkg-config libx11-dev libxext-dev libxi-dev
 * are installed, and an X display (Xvfb on a machine without one: xvfb-run). Each missing piece gets its own one-line reason.
 */
import { createRequire } from 'node:module';
import { checkGlContext, claimGlContext } from './gl-context.js';
import { softwareRendererIn, type GpuDevice } from './software-renderer.js';

const XVFB = 'xvfb-run -a -s "-screen 0 1024x768x24 -nolisten tcp"';
/** Builds `gl` from source (package.json's allowScripts denies its install script to `npm ci`: docs/gpu.md). */
export const GL_BUILD = 'npm_config_build_from_source=true JOBS=max npm rebuild gl --dangerously-allow-all-scripts';

type CreateContext = (width: number, height: number, options?: object) => WebGlLike | null;
interface WebGlLike {
  RENDERER: number;
  getExtension(name: string): { destroy?: () => void } | null;
  _getParameterDirect?(pname: number): unknown;
}

let probed: GpuDevice | Error | null = null;

/** The GL renderer headless-gl reaches, or throws why headless GL cannot run here (the answer is cached). */
export function headlessGlDevice(): GpuDevice {
  probed ??= probe();
  if (probed instanceof Error) throw probed;
  return probed;
}

function probe(): GpuDevice | Error {
  let create: CreateContext;
  try {
    create = createRequire(import.meta.url)('gl') as CreateContext;
  } catch (e) {
    return new Error('the optional `gl` package is not built (npm ci leaves it out; build it with Debian\'s build-essential python3 pkg-config ' +
      `libx11-dev libxext-dev libxi-dev installed: ${GL_BUILD}): ${(e as Error).message.split('\n')[0]}`);
  }
  const glx = process.platform === 'linux';
  try {
    if (glx) checkGlContext('GLX', 'headless-gl');
  } catch (e) {
    return e as Error;
  }
  const gl = create(1, 1, { preserveDrawingBuffer: true });
  if (!gl) {
    return new Error(process.env.DISPLAY
      ? `headless-gl could not create a GL context on DISPLAY=${process.env.DISPLAY} (Debian: libgl1-mesa-dri)`
      : `no X display for headless-gl (DISPLAY is unset): run under ${XVFB} (Debian: xvfb xauth libgl1-mesa-dri)`);
  }
  if (glx) claimGlContext('GLX', 'headless-gl');
  // gl.getParameter(RENDERER) answers a fixed "ANGLE"; the driver's own string is one level down.
  const renderer = String(gl._getParameterDirect?.(gl.RENDERER) ?? 'unknown renderer');
  gl.getExtension('STACKGL_destroy_context')?.destroy?.();
  return { api: 'WebGL 1 (headless-gl, ANGLE)', renderer, software: softwareRendererIn(renderer), ...(process.platform === 'linux' ? { glContext: 'GLX' as const } : {}) };
}
