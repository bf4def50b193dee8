// gpu.js's webgpu mode (Dawn, the `webgpu` package) with the data on the device: see helpers/gpu-suite.ts.
// Needs a Dawn adapter: Mesa's software OpenGL will do (src/kernels/webgpu-setup.ts); elsewhere it skips, saying why.
import { describeGpuBackend } from './helpers/gpu-suite.js';

await describeGpuBackend('webgpu');
