/**
 * Whether a GL renderer or WebGPU adapter is a software rasteriser running on the CPU. Such a device runs the
 * GPU kernels correctly (the tests use it) but never faster than the CPU backends, so `auto` passes it over.
 */
export const SOFTWARE_RENDERERS = ['llvmpipe', 'lavapipe', 'SwiftShader', 'softpipe'] as const;

/** The software renderer named in `description`, or null for (presumably) real hardware. */
export function softwareRendererIn(description: string): string | null {
  const text = description.toLowerCase();
  return SOFTWARE_RENDERERS.find((name) => text.includes(name.toLowerCase())) ?? null;
}

/** What a GPU backend runs on: shown on the start line and in summary.json. */
export interface GpuDevice {
  /** The API path, e.g. "WebGL 1 (headless-gl, ANGLE)" or "WebGPU (Dawn, opengl backend, compatibility)". */
  api: string;
  /** The renderer or adapter as the driver names it. */
  renderer: string;
  /** The software renderer it is (llvmpipe, …), or null for hardware. */
  software: string | null;
  /**
   * The GL context API it makes current on the main thread, if any: Mesa's libGL lets a thread hold a GLX or an
   * EGL context, not both, so headless-gl (GLX) and Dawn's OpenGL backends (EGL) cannot both run in one process.
   */
  glContext?: 'GLX' | 'EGL';
}
