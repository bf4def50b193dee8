/**
 * The machine's BLAS, found at run time and called through koffi (an FFI whose npm package carries prebuilt
 * binaries: nothing is compiled or downloaded). Only two things are taken from it: `cblas_sgemm`, and the
 * library's own thread-count control (OpenBLAS, BLIS, MKL), so that its threads follow `kernels.threads`.
 *
 * Where it looks: `CIFAR_MLP_BLAS=/path/to/lib` when set (then only there), else the usual names and folders of
 * OpenBLAS (pthread and OpenMP builds), MKL (mkl_rt) and BLIS on Linux, Apple Accelerate and Homebrew/MacPorts
 * OpenBLAS on macOS, and the OpenBLAS/MKL DLLs on Windows (found through PATH). The environment is left as the
 * user set it (OPENBLAS_CORETYPE, OPENBLAS_NUM_THREADS, … are read by the library itself).
 */
import { arch, platform } from 'node:os';
import { createRequire } from 'node:module';

export type BlasFlavour = 'openblas' | 'mkl' | 'blis' | 'accelerate' | 'cblas';

/** cblas_sgemm(order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) on float32 arrays. */
export type Sgemm = (
  order: number, transA: number, transB: number, M: number, N: number, K: number,
  alpha: number, A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number,
) => void;

export const CBLAS = { RowMajor: 101, NoTrans: 111, Trans: 112 } as const;

export interface BlasLibrary {
  /** What was loaded: the override path, a file path or a library name that the system loader resolved. */
  readonly path: string;
  readonly flavour: BlasFlavour;
  /** e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64 (core Zen)"; the flavour where it says nothing. */
  readonly description: string;
  readonly sgemm: Sgemm;
  /** Whether setThreads changes anything (Accelerate and a bare CBLAS offer no control). */
  readonly threadControl: boolean;
  /** Sets the library's thread count, process-wide (skipped when it already is n: the library is asked, where it can say). */
  setThreads(n: number): void;
  /** The library's current thread count, where it says (OpenBLAS, BLIS, MKL); null elsewhere. */
  getThreads(): number | null;
}

/** Names of the thread-count functions, by flavour, and their C declarations. */
const THREAD_API: Record<'openblas' | 'mkl' | 'blis', { set: string; get: string }> = {
  openblas: { set: 'void openblas_set_num_threads(int)', get: 'int openblas_get_num_threads()' },
  mkl: { set: 'void MKL_Set_Num_Threads(int)', get: 'int MKL_Get_Max_Threads()' },
  blis: { set: 'void bli_thread_set_num_threads(int64_t)', get: 'int64_t bli_thread_get_num_threads()' },
};

export const SGEMM_DECL = 'void cblas_sgemm(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int)';

/** Where to look, in order, on this platform (without the CIFAR_MLP_BLAS override). */
export function blasCandidates(os: NodeJS.Platform = platform(), cpu: string = arch()): string[] {
  if (os === 'darwin') {
    return [
      '/System/Library/Frameworks/Accelerate.framework/Accelerate',
      '/opt/homebrew/opt/openblas/lib/libopenblas.dylib',
      '/usr/local/opt/openblas/lib/libopenblas.dylib',
      '/opt/local/lib/libopenblas.dylib',
    ];
  }
  if (os === 'win32') return ['libopenblas.dll', 'openblas.dll', 'mkl_rt.2.dll', 'mkl_rt.dll'];
  const triplet = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', ppc64: 'powerpc64le-linux-gnu', riscv64: 'riscv64-linux-gnu' }[cpu] ?? `${cpu}-linux-gnu`;
  return [
    'libopenblas.so.0', // Debian/Ubuntu (libopenblas0-pthread/-openmp, through alternatives), Arch, conda
    'libopenblasp.so.0', // Fedora/RHEL pthread build
    'libopenblaso.so.0', // Fedora/RHEL OpenMP build
    `/usr/lib/${triplet}/openblas-pthread/libopenblas.so.0`,
    `/usr/lib/${triplet}/openblas-openmp/libopenblas.so.0`,
    'libopenblas.so',
    '/opt/OpenBLAS/lib/libopenblas.so', // `make install` of a source build
    'libmkl_rt.so.2',
    'libmkl_rt.so',
    '/opt/intel/oneapi/mkl/latest/lib/intel64/libmkl_rt.so.2',
    '/opt/intel/oneapi/mkl/latest/lib/libmkl_rt.so.2',
    'libblis.so.4',
    `/usr/lib/${triplet}/blis-pthread/libblis.so.4`,
    `/usr/lib/${triplet}/blis-openmp/libblis.so.4`,
    'libblis.so',
  ];
}

export const BLAS_ENV = 'CIFAR_MLP_BLAS';

/** No BLAS could be loaded; the message says where it looked and what failed. */
export class BlasNotFoundError extends Error {
  override name = 'BlasNotFoundError';
  constructor(message: string, readonly tried: { path: string; reason: string }[]) {
    super(message);
  }
}

interface KoffiLib {
  func(decl: string): (...args: unknown[]) => unknown;
}
export interface Koffi {
  load(path: string): KoffiLib;
}

let koffiModule: Koffi | null | undefined;
function koffi(): Koffi {
  if (koffiModule === undefined) {
    try {
      koffiModule = createRequire(import.meta.url)('koffi') as Koffi;
    } catch {
      koffiModule = null;
    }
  }
  if (!koffiModule) throw new BlasNotFoundError('the koffi package (the FFI that calls the BLAS) does not load here', []);
  return koffiModule;
}

const loaded = new Map<string, BlasLibrary>();

/**
 * Environment defaults for the library's load, where the user has not set them (theirs are kept). OpenBLAS reads its
 * environment once, when it loads.
 * - OPENBLAS_THREAD_TIMEOUT=4: OpenBLAS's idle threads sleep right after a product (2^4 cycles) instead of
 *   spinning for 2^28 cycles (about 0.1 s, longer than a whole step at small widths) on the core where the next
 *   batch is being gathered; measured: the pipeline's epoch at m = 50 went from 1.2–1.7× the bare steps' time to
 *   about 1.0× (docs/blas.md), the bare steps unchanged.
 * Set for the load only and restored after it, so that child processes (a benchmark's peers) see the user's
 * environment. From a worker thread this reaches the C library only where the thread shares the process's
 * environment (worker_threads' SHARE_ENV, as the search's pool has it).
 */
export const LOAD_ENV_DEFAULTS: Readonly<Record<string, string>> = { OPENBLAS_THREAD_TIMEOUT: '4' };

function withEnvDefaults<T>(defaults: Readonly<Record<string, string>>, fn: () => T): T {
  const added = Object.keys(defaults).filter((k) => process.env[k] === undefined && (k !== 'OPENBLAS_THREAD_TIMEOUT' || process.env.GOTO_THREAD_TIMEOUT === undefined));
  for (const k of added) process.env[k] = defaults[k];
  try {
    return fn();
  } finally {
    for (const k of added) delete process.env[k];
  }
}

/** A function of the library, or null when it does not export it. */
function optional(lib: KoffiLib, decl: string): ((...args: unknown[]) => unknown) | null {
  try {
    return lib.func(decl);
  } catch {
    return null;
  }
}

/** Loads one candidate; throws a one-line reason when it is missing, not a library, or has no cblas_sgemm. */
export function openBlas(path: string): BlasLibrary {
  const cached = loaded.get(path);
  if (cached) return cached;
  const ffi = koffi(); // its absence is not this candidate's fault: BlasNotFoundError, which findBlas passes on
  let lib: KoffiLib;
  try {
    lib = withEnvDefaults(LOAD_ENV_DEFAULTS, () => ffi.load(path));
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message.replace(/^Failed to load shared library: /, '')}`);
  }
  const sgemm = optional(lib, SGEMM_DECL);
  if (!sgemm) throw new Error(`${path}: loads, but has no cblas_sgemm (not a BLAS with the CBLAS interface)`);

  let flavour: BlasFlavour = /accelerate|veclib/i.test(path) ? 'accelerate' : 'cblas';
  let set: ((n: number) => void) | null = null, get: (() => number) | null = null;
  for (const [name, api] of Object.entries(THREAD_API) as [keyof typeof THREAD_API, { set: string; get: string }][]) {
    const s = optional(lib, api.set);
    if (!s) continue;
    flavour = name;
    const g = optional(lib, api.get);
    set = name === 'blis' ? (n) => s(BigInt(n)) : (n) => s(n);
    get = g ? () => Number(g()) : null;
    break;
  }
  let description: string = { openblas: 'OpenBLAS', mkl: 'Intel MKL', blis: 'BLIS', accelerate: 'Apple Accelerate', cblas: 'a CBLAS' }[flavour];
  if (flavour === 'openblas') {
    const config = optional(lib, 'const char *openblas_get_config()')?.() as string | undefined;
    const core = optional(lib, 'const char *openblas_get_corename()')?.() as string | undefined;
    if (config) description = `${config.trim()}${core ? ` (core ${core.trim()})` : ''}`;
  }
  let current = -1; // what this thread last set, where the library cannot say (other threads may change it)
  const library: BlasLibrary = {
    path,
    flavour,
    description,
    sgemm: sgemm as unknown as Sgemm,
    threadControl: set !== null,
    setThreads(n: number) {
      if (!set || (get ? get() : current) === n) return; // asked each time: search workers share the library
      set(n);
      current = n;
    },
    getThreads: () => (get ? get() : null),
  };
  loaded.set(path, library);
  return library;
}

/**
 * The BLAS to use: `CIFAR_MLP_BLAS` when set in `env` (only there), else the first candidate that loads.
 * Throws BlasNotFoundError with a one-line message naming every place it looked.
 */
export function findBlas(env: NodeJS.ProcessEnv = process.env, candidates: string[] = blasCandidates()): BlasLibrary {
  const override = env[BLAS_ENV]?.trim();
  if (override) {
    try {
      return openBlas(override);
    } catch (e) {
      const reason = (e as Error).message;
      throw new BlasNotFoundError(`${BLAS_ENV}=${reason}`, [{ path: override, reason }]);
    }
  }
  const tried: { path: string; reason: string }[] = [];
  for (const path of candidates) {
    try {
      return openBlas(path);
    } catch (e) {
      if (e instanceof BlasNotFoundError) throw e; // koffi itself is missing: no candidate can load
      tried.push({ path, reason: (e as Error).message });
    }
  }
  // a library that loaded but is not usable is worth naming; "not found" is the common case and stays short
  const odd = tried.filter((t) => !/No such file|cannot open|not found|image not found|could not be found|specified module/i.test(t.reason));
  const names = [...new Set(candidates.map((c) => c.split(/[\\/]/).pop()!))];
  throw new BlasNotFoundError(
    `no BLAS found: looked for ${names.join(', ')}${names.length < candidates.length ? ' in the system\'s library path and the usual folders' : ''}` +
      (odd.length ? ` (${odd.map((t) => t.reason).join('; ')})` : '') + `; install one or set ${BLAS_ENV}=/path/to/library (docs/blas.md)`,
    tried,
  );
}
