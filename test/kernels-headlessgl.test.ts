// gpu.js's headlessgl mode (WebGL 1 through the `gl` package) with the data on the device: see helpers/gpu-suite.ts.
// Needs the `gl` build and an X display: CI runs the suite under xvfb-run (.ci/run); elsewhere it skips, saying why.
import { describeGpuBackend } from './helpers/gpu-suite.js';

await describeGpuBackend('headlessgl');
