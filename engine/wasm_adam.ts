/**
 * Adam as a WebAssembly SIMD kernel that works directly in tfjs-wasm's heap.
 *
 * The JavaScript Adam loop is scalar: about 6 ns per parameter, ~390 ms per part3 step
 * (61 M parameters). This kernel updates four floats per instruction, reading the
 * weight and gradient tensors where tfjs keeps them and the two moments from
 * buffers allocated in the same heap, so nothing is copied. Its module (a few
 * hundred bytes) is assembled here from the instruction list below, so there is no
 * binary file and no toolchain: the WAT-like comments are the source.
 * @module
 */

/** Arguments of one kernel call: byte offsets in the heap, then the step's constants. */
export interface AdamKernelArgs {
  /** Weights (updated). */
  weights: number;
  /** Gradients (read). */
  gradients: number;
  /** First moment (updated). */
  m: number;
  /** Second moment (updated). */
  v: number;
  /** Number of floats; the kernel does the multiple-of-4 part, the caller the rest. */
  count: number;
  /** β1. */
  beta1: number;
  /** β2. */
  beta2: number;
  /** L2 coefficient added to the gradient as decay·w. */
  decay: number;
  /** lr·√(1−β2ᵗ)/(1−β1ᵗ). */
  scale: number;
  /** ε·√(1−β2ᵗ). */
  epsilon: number;
}

/** One Adam update: m ← β1·m + (1−β1)·g', v ← β2·v + (1−β2)·g'², w ← w − scale·m/(√v + ε), with g' = g + decay·w. */
export type AdamKernel = (args: AdamKernelArgs) => void;

const cache = new WeakMap<WebAssembly.Memory, AdamKernel>();

/** The kernel bound to `memory` (compiled once per memory). */
export function adamKernel(memory: WebAssembly.Memory): AdamKernel {
  const cached = cache.get(memory);
  if (cached) return cached;
  // The threaded tfjs build's heap is shared memory (4 GiB maximum); the module must declare it the same way.
  const shared = memory.buffer instanceof SharedArrayBuffer;
  const instance = new WebAssembly.Instance(new WebAssembly.Module(adamModule(shared)), { env: { memory } });
  const run = instance.exports.adam as (...args: number[]) => void;
  const kernel: AdamKernel = (a) =>
    run(
      a.weights,
      a.gradients,
      a.m,
      a.v,
      (a.count >> 2) << 4,
      a.beta1,
      1 - a.beta1,
      a.beta2,
      1 - a.beta2,
      a.decay,
      a.scale,
      a.epsilon,
    );
  cache.set(memory, kernel);
  return kernel;
}

// ---- the module ----

const I32 = 0x7f, F32 = 0x7d, V128 = 0x7b;
const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, depth],
  brIf: (depth: number) => [0x0d, depth],
  get: (index: number) => [0x20, index],
  set: (index: number) => [0x21, index],
  tee: (index: number) => [0x22, index],
  i32Const: (value: number) => [0x41, ...sleb(value)],
  i32Add: [0x6a],
  i32GeU: [0x4f],
  // SIMD: prefix 0xfd, then the opcode as unsigned LEB128; loads and stores take align (log2) and offset.
  load: [0xfd, 0x00, 0x02, 0x00],
  store: [0xfd, 0x0b, 0x02, 0x00],
  splat: [0xfd, 0x13],
  sqrt: [0xfd, ...uleb(0xe3)],
  add: [0xfd, ...uleb(0xe4)],
  sub: [0xfd, ...uleb(0xe5)],
  mul: [0xfd, ...uleb(0xe6)],
  div: [0xfd, ...uleb(0xe7)],
};

function uleb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

function sleb(value: number): number[] {
  const out: number[] = [];
  while (true) {
    const byte = value & 0x7f;
    value >>= 7;
    if ((value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vector = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const name = (text: string) => [...uleb(text.length), ...new TextEncoder().encode(text)];

// Parameters: 0 w, 1 g, 2 m, 3 v, 4 bytes (i32); 5 β1, 6 1−β1, 7 β2, 8 1−β2, 9 decay, 10 scale, 11 ε (f32).
// Locals: 12 i (i32); 13..19 the seven constants splatted to f32x4; 20 W, 21 G, 22 M, 23 V (v128).
const [W_PTR, G_PTR, M_PTR, V_PTR, BYTES, I] = [0, 1, 2, 3, 4, 12];
const [B1, OMB1, B2, OMB2, DECAY, SCALE, EPS] = [13, 14, 15, 16, 17, 18, 19];
const [W, G, M, V] = [20, 21, 22, 23];
const at = (pointer: number) => [...op.get(pointer), ...op.get(I), ...op.i32Add];

/** pointer[i] = local = beta·pointer[i] + oneMinusBeta·(value), with `value` the instructions that push it. */
const movingAverage = (pointer: number, beta: number, oneMinusBeta: number, value: number[], local: number) => [
  ...at(pointer),
  ...op.get(beta),
  ...at(pointer),
  ...op.load,
  ...op.mul,
  ...op.get(oneMinusBeta),
  ...value,
  ...op.mul,
  ...op.add,
  ...op.tee(local),
  ...op.store,
];

const body = [
  // local.get p; f32x4.splat; local.set 13+p-5, for each scalar parameter
  ...[5, 6, 7, 8, 9, 10, 11].flatMap((p) => [...op.get(p), ...op.splat, ...op.set(p + 8)]),
  ...op.block,
  ...op.loop,
  // while (i < bytes)
  ...op.get(I),
  ...op.get(BYTES),
  ...op.i32GeU,
  ...op.brIf(1),
  // W = w[i]; G = g[i] + decay·W
  ...at(W_PTR),
  ...op.load,
  ...op.set(W),
  ...at(G_PTR),
  ...op.load,
  ...op.get(DECAY),
  ...op.get(W),
  ...op.mul,
  ...op.add,
  ...op.set(G),
  // m[i] = M = β1·m[i] + (1−β1)·G
  ...movingAverage(M_PTR, B1, OMB1, [...op.get(G)], M),
  // v[i] = V = β2·v[i] + (1−β2)·G·G
  ...movingAverage(V_PTR, B2, OMB2, [...op.get(G), ...op.get(G), ...op.mul], V),
  // w[i] = W − scale·M / (√V + ε)
  ...at(W_PTR),
  ...op.get(W),
  ...op.get(SCALE),
  ...op.get(M),
  ...op.mul,
  ...op.get(V),
  ...op.sqrt,
  ...op.get(EPS),
  ...op.add,
  ...op.div,
  ...op.sub,
  ...op.store,
  // i += 16 bytes
  ...op.get(I),
  ...op.i32Const(16),
  ...op.i32Add,
  ...op.set(I),
  ...op.br(0),
  ...op.end,
  ...op.end,
  ...op.end,
];
const locals = vector([[1, I32], [11, V128]]);
const functionBody = [...locals, ...body];

/** The module; its memory import is declared shared (limits 1..65536 pages) for the threaded build's heap. */
const adamModule = (shared: boolean) =>
  new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vector([[0x60, ...vector([[I32], [I32], [I32], [I32], [I32], ...Array(7).fill([F32])]), 0x00]])),
    ...section(
      2,
      vector([[...name("env"), ...name("memory"), 0x02, ...(shared ? [0x03, 0x01, ...uleb(65536)] : [0x00, 0x01])]]),
    ),
    ...section(3, vector([[0x00]])),
    ...section(7, vector([[...name("adam"), 0x00, 0x00]])),
    ...section(10, vector([[...uleb(functionBody.length), ...functionBody]])),
  ]);
