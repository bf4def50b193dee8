/**
 * The gpu.js kernels of the device backend (gpujs-device.ts), as sources: one thread per output entry, outputs
 * shaped [cols, rows] so `this.thread.y` is the row i and `this.thread.x` the column j, inputs read as m[i][j].
 * The same JavaScript compiles to GLSL (headlessgl) and WGSL (webgpu). Everything is float32; reductions sum in
 * blocks of 32 (error ~ (32 + n/32) ulp instead of n ulp), loss sums leave the device as per-block partial sums
 * that the host adds in float64.
 *
 * A product's element-wise successors can ride in its kernel (an "epilogue"): beta · c, then + bias and ReLU,
 * then dropout's mask, or the ReLU mask of the backward pass. Dropout's mask arrives as bits packed 16 to a float:
 * gpu.js kernels have no 32-bit integer arithmetic (WebGL 1 has no integers, gpu.js's WGSL computes in f32),
 * so the counter hash of dropout-mask.ts runs on the host, and the device only unpacks bits (exactly: powers of two).
 */

/** Rows per block of the loss partial sums. */
export const LOSS_BLOCK = 16;
/** Mask bits per float: small enough that every step of the unpacking is exact in float32. */
export const MASK_BITS = 16;
const SUM_BLOCK = 32;

export interface KernelSpec {
  /** Cache key: equal keys, equal kernels. */
  key: string;
  source: string;
  /** gpu.js output: [x, y] = [cols, rows], or [length]. */
  output: number[];
  constants: Record<string, number>;
}

export interface Epilogue {
  /** out = alpha · value + beta · c (reads the output's old values). */
  beta?: boolean;
  /** then max(0, · + bias[j]). */
  biasRelu?: boolean;
  /** then × mask bit / keep (argument `mask`, packed rows of ceil(cols / 16) floats, and `invKeep`). */
  dropout?: boolean;
  /** then h[i][j] > 0 ? · × scale : 0 (arguments `h`, `scale`). */
  reluBackward?: boolean;
}

function epilogueKey(e: Epilogue): string {
  return `${e.beta ? 'B' : ''}${e.biasRelu ? 'R' : ''}${e.dropout ? 'D' : ''}${e.reluBackward ? 'G' : ''}`;
}

/** Arguments after the value's own inputs, in kernel order (matrices, then mask, then scalars). */
export function epilogueArgs(e: Epilogue): string[] {
  return [
    ...(e.beta ? ['c'] : []), ...(e.biasRelu ? ['bias'] : []), ...(e.dropout ? ['mask'] : []), ...(e.reluBackward ? ['h'] : []),
    'alpha', ...(e.beta ? ['beta'] : []), ...(e.dropout ? ['invKeep'] : []), ...(e.reluBackward ? ['scale'] : []),
  ];
}

function epilogueBody(e: Epilogue): string {
  return [
    'let v = alpha * value;',
    e.beta ? 'v = v + beta * c[i][j];' : '',
    e.biasRelu ? 'v = v + bias[0][j]; if (v < 0) { v = 0; }' : '',
    e.dropout ? `
      const word = mask[i * this.constants.words + Math.floor(j / ${MASK_BITS})];
      const bit = j - ${MASK_BITS} * Math.floor(j / ${MASK_BITS});
      let shift = 1;
      for (let t = 0; t < ${MASK_BITS}; t++) { if (t < bit) { shift = shift * 0.5; } }
      const q = Math.floor(word * shift);
      if (q - 2 * Math.floor(q * 0.5) > 0.5) { v = v * invKeep; } else { v = 0; }` : '',
    e.reluBackward ? 'if (h[i][j] > 0) { v = v * scale; } else { v = 0; }' : '',
    'return v;',
  ].join('\n');
}

function kernel(args: string[], body: string): string {
  return `function (${args.join(', ')}) {\nconst i = this.thread.y; const j = this.thread.x;\n${body}\n}`;
}

/** Packed floats per mask row. */
export function maskWords(cols: number): number {
  return Math.ceil(cols / MASK_BITS);
}

/** c[n×m] = epilogue(op(a) · op(b)) with the inner dimension k. */
export function gemmSpec(ta: boolean, tb: boolean, n: number, m: number, k: number, e: Epilogue): KernelSpec {
  const av = ta ? 'a[p][i]' : 'a[i][p]', bv = tb ? 'b[j][p]' : 'b[p][j]';
  const body = `
    let value = 0;
    for (let q = 0; q < this.constants.blocks; q++) {
      let part = 0;
      for (let r = 0; r < ${SUM_BLOCK}; r++) {
        const p = q * ${SUM_BLOCK} + r;
        if (p < this.constants.k) { part += ${av} * ${bv}; }
      }
      value += part;
    }
    ${epilogueBody(e)}`;
  return {
    key: `gemm:${ta ? 't' : 'n'}${tb ? 't' : 'n'}:${n}:${m}:${k}:${epilogueKey(e)}`,
    source: kernel(['a', 'b', ...epilogueArgs(e)], body),
    output: [m, n],
    constants: { k, blocks: Math.ceil(k / SUM_BLOCK), words: maskWords(m) },
  };
}

/** The epilogue alone on s's own values (biasRelu, dropout, reluBackward when no product precedes them). */
export function elementwiseSpec(rows: number, cols: number, e: Epilogue): KernelSpec {
  return {
    key: `elementwise:${rows}:${cols}:${epilogueKey(e)}`,
    source: kernel(['s', ...epilogueArgs(e)], `const value = s[i][j];\n${epilogueBody(e)}`),
    output: [cols, rows],
    constants: { words: maskWords(cols) },
  };
}

/** A flat row-major Float32Array as a matrix; with `keep`, rows from `count` on keep the old values. */
export function uploadSpec(rows: number, cols: number, keep: boolean): KernelSpec {
  const body = keep
    ? 'if (i < count) { return v[i * this.constants.cols + j]; }\nreturn old[i][j];'
    : 'return v[i * this.constants.cols + j];';
  return { key: `upload:${rows}:${cols}:${keep}`, source: kernel(keep ? ['v', 'old', 'count'] : ['v'], body), output: [cols, rows], constants: { cols } };
}

export function zeroSpec(rows: number, cols: number): KernelSpec {
  return { key: `zero:${rows}:${cols}`, source: 'function () { return 0; }', output: [cols, rows], constants: {} };
}

/** Row i's maximum and Σ exp(s + bias − max), into `mx` and `sum` (uses the constant k = columns). */
function rowStats(withBias: boolean): string {
  const x = (c: string) => (withBias ? `(s[i][${c}] + bias[0][${c}])` : `s[i][${c}]`);
  return `
    let mx = ${x('0')};
    let arg = 0;
    for (let c = 1; c < this.constants.k; c++) { if (${x('c')} > mx) { mx = ${x('c')}; arg = c; } }
    let sum = 0;
    for (let c = 0; c < this.constants.k; c++) { sum += Math.exp(${x('c')} - mx); }`;
}

/** s = softmax(s + bias) row by row; with `gradient`, minus the one-hot labels (P − Y). */
export function softmaxSpec(rows: number, cols: number, gradient: boolean): KernelSpec {
  const body = `${rowStats(true)}
    let v = Math.exp(s[i][j] + bias[0][j] - mx) / sum;
    ${gradient ? 'if (Math.abs(labels[i] - j) < 0.5) { v = v - 1; }' : ''}
    return v;`;
  return {
    key: `softmax:${rows}:${cols}:${gradient}`,
    source: kernel(gradient ? ['s', 'bias', 'labels'] : ['s', 'bias'], body),
    output: [cols, rows],
    constants: { k: cols },
  };
}

/**
 * Partial loss sums over blocks of LOSS_BLOCK rows, for rows < count: entry [block][0] = Σ −log p[i][y_i],
 * [block][1] = how many rows have argmax = y_i. From logits s + bias (the loss as log Σ exp − (s_y − max), which
 * keeps its precision where p_y is tiny) or, `fromProbabilities`, from p itself.
 */
export function lossKernelSpec(rows: number, cols: number, fromProbabilities: boolean): KernelSpec {
  const loss = fromProbabilities
    ? 'let p = s[i][y]; if (p < 1e-37) { p = 1e-37; } const loss = -Math.log(p);'
    : 'const loss = Math.log(sum) - (s[i][y] + bias[0][y] - mx);';
  const body = `
    let acc = 0;
    for (let r = 0; r < ${LOSS_BLOCK}; r++) {
      const i = this.thread.y * ${LOSS_BLOCK} + r;
      if (i < count) {
        ${rowStats(!fromProbabilities)}
        const y = labels[i];
        ${loss}
        if (j < 0.5) { acc += loss; } else { if (Math.abs(arg - y) < 0.5) { acc += 1; } }
      }
    }
    return acc;`;
  return {
    key: `loss:${rows}:${cols}:${fromProbabilities}`,
    source: `function (${fromProbabilities ? 's' : 's, bias'}, labels, count) {\nconst j = this.thread.x;\n${body}\n}`,
    output: [2, Math.ceil(rows / LOSS_BLOCK)],
    constants: { k: cols },
  };
}

/** out[0][j] = alpha · Σ_i a[i][j] (+ beta · out[0][j]). */
export function columnSumsSpec(rows: number, cols: number, beta: boolean): KernelSpec {
  const body = `
    let s = 0;
    for (let q = 0; q < this.constants.blocks; q++) {
      let part = 0;
      for (let r = 0; r < ${SUM_BLOCK}; r++) {
        const row = q * ${SUM_BLOCK} + r;
        if (row < this.constants.rows) { part += a[row][j]; }
      }
      s += part;
    }
    ${beta ? 'return alpha * s + beta * out[0][j];' : 'return alpha * s;'}`;
  return {
    key: `columnSums:${rows}:${cols}:${beta}`,
    source: `function (a, ${beta ? 'out, alpha, beta' : 'alpha'}) {\nconst j = this.thread.x;\n${body}\n}`,
    output: [cols, 1],
    constants: { rows, blocks: Math.ceil(rows / SUM_BLOCK) },
  };
}

/** Σ_j a[i][j]² per row i (the host adds the rows). */
export function rowSquaresSpec(rows: number, cols: number): KernelSpec {
  const body = `
    const i = this.thread.x;
    let s = 0;
    for (let q = 0; q < this.constants.blocks; q++) {
      let part = 0;
      for (let r = 0; r < ${SUM_BLOCK}; r++) {
        const c = q * ${SUM_BLOCK} + r;
        if (c < this.constants.cols) { const v = a[i][c]; part += v * v; }
      }
      s += part;
    }
    return s;`;
  return { key: `rowSquares:${rows}:${cols}`, source: `function (a) {\n${body}\n}`, output: [rows], constants: { cols, blocks: Math.ceil(cols / SUM_BLOCK) } };
}

/** y = alpha · x + beta · y (without beta: alpha · x). */
export function scaleAddSpec(rows: number, cols: number, beta: boolean): KernelSpec {
  return {
    key: `scaleAdd:${rows}:${cols}:${beta}`,
    source: kernel(beta ? ['x', 'y', 'alpha', 'beta'] : ['x', 'alpha'], beta ? 'return alpha * x[i][j] + beta * y[i][j];' : 'return alpha * x[i][j];'),
    output: [cols, rows],
    constants: {},
  };
}

/** Momentum, first half: v = mu · v + g + 2 lambda w. */
export function velocitySpec(rows: number, cols: number): KernelSpec {
  return {
    key: `velocity:${rows}:${cols}`,
    source: kernel(['v', 'g', 'w', 'mu', 'lambda2'], 'return mu * v[i][j] + (g[i][j] + lambda2 * w[i][j]);'),
    output: [cols, rows],
    constants: {},
  };
}

/** Momentum, second half, with the new velocity: w −= eta v (Nesterov: eta (g + 2 lambda w + mu v)). */
export function momentumStepSpec(rows: number, cols: number, nesterov: boolean): KernelSpec {
  const step = nesterov ? '(g[i][j] + lambda2 * w[i][j]) + mu * v[i][j]' : 'v[i][j]';
  return {
    key: `momentumStep:${rows}:${cols}:${nesterov}`,
    source: kernel(['w', 'g', 'v', 'eta', 'mu', 'lambda2'], `return w[i][j] - eta * (${step});`),
    output: [cols, rows],
    constants: {},
  };
}

/** out[0][j] = a reduction over the rows of Σ_row `term` (which reads `row` and `j`), then `finish` on the sum s. */
function columnReduceSpec(name: string, rows: number, cols: number, args: string[], term: string, finish: string): KernelSpec {
  const body = `
    let s = 0;
    for (let q = 0; q < this.constants.blocks; q++) {
      let part = 0;
      for (let r = 0; r < ${SUM_BLOCK}; r++) {
        const row = q * ${SUM_BLOCK} + r;
        if (row < this.constants.rows) { part += ${term}; }
      }
      s += part;
    }
    ${finish}`;
  return {
    key: `${name}:${rows}:${cols}`,
    source: `function (${args.join(', ')}) {\nconst j = this.thread.x;\n${body}\n}`,
    output: [cols, 1],
    constants: { rows, blocks: Math.ceil(rows / SUM_BLOCK) },
  };
}

/** out[0][j] = Σ_i (a[i][j] − mean[0][j])² / rows: batch norm's (biased) variance. */
export function columnVarianceSpec(rows: number, cols: number): KernelSpec {
  return columnReduceSpec('columnVariance', rows, cols, ['a', 'mean'], '(a[row][j] - mean[0][j]) * (a[row][j] - mean[0][j])', 'return s / this.constants.rows;');
}

/** out[0][j] = alpha · Σ_i a[i][j] b[i][j]. */
export function columnDotsSpec(rows: number, cols: number): KernelSpec {
  return columnReduceSpec('columnDots', rows, cols, ['a', 'b', 'alpha'], 'a[row][j] * b[row][j]', 'return alpha * s;');
}

/** The element-wise ops of batch normalisation, by name: their arguments and the value of entry [i][j]. */
const BATCH_NORM_ELEMENTWISE = {
  batchNormalize: [['s', 'mean', 'variance', 'eps'], 'return (s[i][j] - mean[0][j]) / Math.sqrt(variance[0][j] + eps);'],
  affineRelu: [['x', 'gamma', 'beta'], 'let v = gamma[0][j] * x[i][j] + beta[0][j]; if (v < 0) { v = 0; } return v;'],
  scaleColumns: [['g', 'gamma'], 'return g[i][j] * gamma[0][j];'],
  batchNormBackward: [['g', 'shat', 'variance', 'meanG', 'meanGS', 'eps'], 'return (g[i][j] - meanG[0][j] - shat[i][j] * meanGS[0][j]) / Math.sqrt(variance[0][j] + eps);'],
} as const;

export function batchNormSpec(op: keyof typeof BATCH_NORM_ELEMENTWISE, rows: number, cols: number): KernelSpec {
  const [args, body] = BATCH_NORM_ELEMENTWISE[op];
  return { key: `${op}:${rows}:${cols}`, source: kernel([...args], body), output: [cols, rows], constants: {} };
}
