/**
 * The GPU backends in tests: created once per file when this machine can run them. Where it cannot (no `gl` build,
 * no X display, no Dawn adapter), a test file skips with ONE line naming what is missing, and fails instead under
 * CI=true (CI installs everything they need: .ci/run).
 */
import { describe, it } from 'vitest';
import { GpuJsDeviceBackend, type DeviceMode } from '../../src/kernels/gpujs-device.js';

/** Why this mode cannot run here, or null when it can. */
export async function deviceUnavailable(mode: DeviceMode): Promise<string | null> {
  try {
    await (await GpuJsDeviceBackend.create(mode)).dispose();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * Calls `suite` with a backend factory when the mode loads. Otherwise: one skipped test whose title says what is missing,
 * printed once; under CI=true one failing test instead.
 */
export async function describeOnDevice(mode: DeviceMode, suite: (create: () => Promise<GpuJsDeviceBackend>) => void): Promise<void> {
  const missing = await deviceUnavailable(mode);
  if (missing) {
    if (process.env.CI === 'true') {
      describe(`gpu.js ${mode}`, () => it('loads (CI installs gl, Xvfb and Mesa)', () => { throw new Error(`gpu.js ${mode} does not load: ${missing}`); }));
    } else {
      const line = `gpu.js ${mode} backend unavailable here, its tests skipped: ${missing}`;
      process.stderr.write(`${line}\n`);
      describe.skip(`gpu.js ${mode}`, () => it(line, () => {}));
    }
    return;
  }
  suite(() => GpuJsDeviceBackend.create(mode));
}
