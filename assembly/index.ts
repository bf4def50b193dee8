// WebAssembly SIMD (f32x4) kernels of the wasm-simd backend, compiled by build.mjs with asc.
// All pointers are byte offsets into the shared memory imported from env.memory; nothing here allocates
// and there is no static data, so every thread can instantiate this module over the same memory.
// Work-splitting: each entry point takes a range of the output (rows or columns) so threads can share a product.
import { ntBlock, bcBlock, NT_R, NT_C, BC_R, BC_V } from './kernels.gen';

/**
 * NT: C[i][j] = alpha Σ_p A[i][p] B[j][p] + beta C[i][j] for i in [i0, i1), j in [j0, j1).
 * Strides in elements. A is ?×K, B is ?×K, both with p contiguous (dot products, f32x4 over p).
 * B's blocks of NT_C rows are the outer loop: each stays in L1 while A's rows stream past it, so B (W1, the big
 * operand of the forward product) is read from memory once per call, not once per block of A's rows.
 */
export function gemmNT(a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, K: i32, alpha: f32, beta: f32, i0: i32, i1: i32, j0: i32, j1: i32): void {
  const la = <usize>lda << 2, lb = <usize>ldb << 2, lc = <usize>ldc << 2;
  for (let j = j0; j < j1; j += NT_C) {
    const C = min(NT_C, j1 - j);
    for (let i = i0; i < i1; i += NT_R) {
      const R = min(NT_R, i1 - i);
      ntBlock(R, C, a + <usize>i * la, la, b + <usize>j * lb, lb, c + <usize>i * lc + (<usize>j << 2), lc, K, alpha, beta);
    }
  }
}

/**
 * B not transposed (NN and TN): C[i][j] = alpha Σ_p A(i,p) B[p][j] + beta C[i][j], A(i,p) at a + 4 (i sar + p sap),
 * for all rows i < M and columns j in [j0, j1). f32x4 over j, A broadcast. When `pack` is non-zero, each
 * K × 4V column panel of B is first copied there contiguously (K · 16 · BC_V bytes of scratch): the rows of B
 * are often 4 KiB-multiples apart (d = 3072), which would map a whole panel onto one L1 set.
 */
export function gemmBcast(a: usize, sar: i32, sap: i32, b: usize, ldb: i32, c: usize, ldc: i32, M: i32, K: i32, alpha: f32, beta: f32, j0: i32, j1: i32, pack: usize): void {
  const sr = <usize>sar << 2, sp = <usize>sap << 2, lb = <usize>ldb << 2, lc = <usize>ldc << 2;
  let j = j0;
  while (j1 - j >= 4) {
    const V = min(BC_V, (j1 - j) >> 2);
    let pb = b + (<usize>j << 2), lpb = lb;
    if (pack != 0) {
      const w = <usize>V << 4;
      let src = pb, dst = pack;
      for (let p = 0; p < K; p++) {
        for (let o: usize = 0; o < w; o += 16) v128.store(dst + o, v128.load(src + o));
        src += lb; dst += w;
      }
      pb = pack; lpb = w;
    }
    for (let i = 0; i < M; i += BC_R) {
      const R = min(BC_R, M - i);
      bcBlock(R, V, a + <usize>i * sr, sr, sp, pb, lpb, c + <usize>i * lc + (<usize>j << 2), lc, K, alpha, beta);
    }
    j += V << 2;
  }
  for (; j < j1; j++) {
    for (let i = 0; i < M; i++) {
      let s: f32 = 0;
      for (let p = 0; p < K; p++) s += load<f32>(a + <usize>i * sr + <usize>p * sp) * load<f32>(b + <usize>p * lb + (<usize>j << 2));
      const pc = c + <usize>i * lc + (<usize>j << 2);
      store<f32>(pc, beta == 0 ? alpha * s : alpha * s + beta * load<f32>(pc));
    }
  }
}

/** Any layout, scalar: C[i][j] = alpha Σ_p A(i,p) B(p,j) + beta C[i][j] for rows i in [i0, i1); element strides. */
export function gemmGeneric(a: usize, sar: i32, sap: i32, b: usize, sbp: i32, sbj: i32, c: usize, ldc: i32, N: i32, K: i32, alpha: f32, beta: f32, i0: i32, i1: i32): void {
  for (let i = i0; i < i1; i++) {
    for (let j = 0; j < N; j++) {
      let s: f32 = 0;
      for (let p = 0; p < K; p++) s += load<f32>(a + ((<usize>i * sar + <usize>p * sap) << 2)) * load<f32>(b + ((<usize>p * sbp + <usize>j * sbj) << 2));
      const pc = c + ((<usize>i * ldc + <usize>j) << 2);
      store<f32>(pc, beta == 0 ? alpha * s : alpha * s + beta * load<f32>(pc));
    }
  }
}

/** scale[k] = invStd[k] / 255, shift[k] = −mean[k] invStd[k], so x = byte · scale + shift. */
export function normalisers(mean: usize, invStd: usize, scale: usize, shift: usize, d: i32): void {
  for (let k = 0; k < d; k++) {
    const o = <usize>k << 2;
    const s = load<f32>(invStd + o);
    store<f32>(scale + o, s / 255);
    store<f32>(shift + o, -load<f32>(mean + o) * s);
  }
}

/** out[r][k] = src[r][k] · scale[k] + shift[k] for rows r in [r0, r1): uint8 rows of d bytes to float32. */
export function normaliseRows(src: usize, d: i32, scale: usize, shift: usize, out: usize, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    const s = src + <usize>r * d, o = out + ((<usize>r * d) << 2);
    let k = 0;
    for (; k + 16 <= d; k += 16) {
      const bytes = v128.load(s + k);
      const lo = i16x8.extend_low_i8x16_u(bytes), hi = i16x8.extend_high_i8x16_u(bytes);
      const k4 = <usize>k << 2;
      const q0 = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(lo));
      const q1 = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(lo));
      const q2 = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(hi));
      const q3 = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(hi));
      v128.store(o + k4, f32x4.add(f32x4.mul(q0, v128.load(scale + k4)), v128.load(shift + k4)));
      v128.store(o + k4, f32x4.add(f32x4.mul(q1, v128.load(scale + k4, 16)), v128.load(shift + k4, 16)), 16);
      v128.store(o + k4, f32x4.add(f32x4.mul(q2, v128.load(scale + k4, 32)), v128.load(shift + k4, 32)), 32);
      v128.store(o + k4, f32x4.add(f32x4.mul(q3, v128.load(scale + k4, 48)), v128.load(shift + k4, 48)), 48);
    }
    for (; k < d; k++) {
      const k4 = <usize>k << 2;
      store<f32>(o + k4, <f32>load<u8>(s + k) * load<f32>(scale + k4) + load<f32>(shift + k4));
    }
  }
}

/** out[j] = Σ_{i<rows} a[i][j] for j in [j0, j1) (partial of a reduction; the caller scales). */
export function columnSums(a: usize, rows: i32, cols: i32, out: usize, scale: f32, j0: i32, j1: i32): void {
  const lc = <usize>cols << 2;
  for (let j = j0; j < j1; j++) {
    let s: f32 = 0;
    for (let i = 0; i < rows; i++) s += load<f32>(a + <usize>i * lc + (<usize>j << 2));
    store<f32>(out + (<usize>j << 2), s * scale);
  }
}

/** Σ a[i]² over n floats (f32x4 partial sums, returned as f64). */
export function sumSquares(a: usize, n: i32): f64 {
  let acc = f32x4.splat(0);
  let i = 0;
  let total: f64 = 0;
  while (i + 4 <= n) {
    // flush the vector accumulator into f64 every 4096 elements to keep float32 rounding small
    const stop = min(n & ~3, i + 4096);
    for (; i < stop; i += 4) {
      const v = v128.load(a + (<usize>i << 2));
      acc = f32x4.add(acc, f32x4.mul(v, v));
    }
    total += <f64>f32x4.extract_lane(acc, 0) + <f64>f32x4.extract_lane(acc, 1) + <f64>f32x4.extract_lane(acc, 2) + <f64>f32x4.extract_lane(acc, 3);
    acc = f32x4.splat(0);
  }
  for (; i < n; i++) {
    const x = <f64>load<f32>(a + (<usize>i << 2));
    total += x * x;
  }
  return total;
}

/** 1 in the build with relaxed SIMD (fused multiply-add), 0 in the plain SIMD128 build. */
export function relaxedSimd(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}

/** The micro-kernel sizes, packed: NT_R | NT_C << 8 | BC_R << 16 | BC_V << 24 (the host sizes scratch and splits with them). */
export function blockSizes(): i32 {
  return NT_R | (NT_C << 8) | (BC_R << 16) | (BC_V << 24);
}
