/**
 * Mesa's libGL lets a thread hold a GLX context or an EGL context, not both: headless-gl (GLX, under X) and Dawn's
 * OpenGL backends (EGL) therefore cannot both run in one process. The wrong order is not a polite error: GLX's
 * MakeCurrent then fails with an X error, which ends the process. Each side claims its API here first.
 */
export type GlContextApi = 'GLX' | 'EGL';

const users: Partial<Record<GlContextApi, string>> = {};

const CLASH = 'one thread cannot hold both a GLX and an EGL context: run them in separate processes';

/** Throws when `user` cannot make a context of this API current because the other API is in use. */
export function checkGlContext(api: GlContextApi, user: string): void {
  const other: GlContextApi = api === 'GLX' ? 'EGL' : 'GLX';
  if (users[other]) throw new Error(`${user} needs ${api}, and ${users[other]} already uses ${other} in this process: ${CLASH}`);
}

/** Records that `user` makes a context of this API current (after checkGlContext). */
export function claimGlContext(api: GlContextApi, user: string): void {
  checkGlContext(api, user);
  users[api] ??= user;
}

/** Who uses this API in this process, if anyone. */
export function glContextUser(api: GlContextApi): string | undefined {
  return users[api];
}
