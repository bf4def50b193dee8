/** The kernel backends a config can name; `auto` picks one at run time (select.ts). */
export const BACKEND_NAMES = ['auto', 'blas', 'wasm-simd', 'webasm', 'cpu', 'headlessgl', 'webgpu', 'reference'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
