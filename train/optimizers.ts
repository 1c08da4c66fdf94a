/**
 * Optimizers that update weights in place, one pass per tensor, with no temporaries.
 *
 * tfjs's own `tf.train.adam` builds about 14 full-size temporaries per variable
 * inside one step; for part3's 211 MB first-layer weight that is ~2.9 GB in a
 * 4 GiB heap, and it crashed. Here Adam on the WASM backend runs as a SIMD kernel
 * (wasm_adam.ts) with its moments in the tfjs heap beside the weights; the other
 * optimizers, and Adam on the cpu backend, are plain JavaScript loops with their
 * state in ordinary Float32Arrays. Formulas follow PyTorch's.
 * @module
 */
import {
  type AdamKernel,
  adamKernel,
  kernelPool,
  type Parameter,
  tensorMemory,
  type tf,
  tfjsHeap,
} from "../engine/mod.ts";

/**
 * The optimizers there are. `adamw` is Adam with decoupled weight decay (Loshchilov & Hutter), `lion` is
 * Chen et al.'s sign-of-momentum update (2023); both decay weights as w ← w·(1 − lr·weightDecay).
 */
export const OPTIMIZER_NAMES = ["adam", "sgd", "momentum", "rmsprop", "adamw", "lion"] as const;

/** Optimizer names. */
export type OptimizerName = typeof OPTIMIZER_NAMES[number];

/** Optimizer settings. */
export interface OptimizerOptions {
  /** Which update rule. */
  name: OptimizerName;
  /** L2 penalty on weights (not on biases or BatchNorm), added to the gradient as l2·w. */
  l2?: number;
  /**
   * Decoupled weight decay on weights (not on biases or norm scales and shifts): w ← w·(1 − lr·weightDecay)
   * before each update, as PyTorch's AdamW and Lion apply it.
   */
  weightDecay?: number;
  /** Adam beta1 / momentum coefficient. */
  beta1?: number;
  /** Adam beta2 / RMSprop decay. */
  beta2?: number;
  /** Denominator epsilon. */
  epsilon?: number;
}

/** Saved optimizer state: step count and one array per state slot per parameter. */
export interface OptimizerState {
  /** Steps taken. */
  step: number;
  /** State arrays, slot-major: [slot][parameter]. */
  slots: Float32Array[][];
}

/** An in-place optimizer over a fixed parameter list. */
export class Optimizer {
  readonly options: Required<OptimizerOptions>;
  #parameters: Parameter[];
  #slots: Float32Array[][] = [];
  #step = 0;
  /** Adam's SIMD kernel and the heap pointers of its moments ([slot][parameter]), when on the WASM backend. */
  #simd: { kernel: AdamKernel; memory: WebAssembly.Memory; free: (p: number) => void; pointers: number[][] } | null =
    null;

  /** Creates state for `parameters` (zeros). */
  constructor(parameters: Parameter[], options: OptimizerOptions) {
    const defaults = {
      adam: [0.9, 0.999, 1e-8],
      adamw: [0.9, 0.999, 1e-8],
      sgd: [0, 0, 0],
      momentum: [0.9, 0, 0],
      rmsprop: [0, 0.99, 1e-8],
      lion: [0.9, 0.99, 0],
    };
    if (!OPTIMIZER_NAMES.includes(options.name)) {
      throw new TypeError(`unknown optimizer "${options.name}": use ${OPTIMIZER_NAMES.join(", ")}`);
    }
    const [beta1, beta2, epsilon] = defaults[options.name];
    this.options = { l2: 0, weightDecay: 0, beta1, beta2, epsilon, ...options };
    this.#parameters = parameters;
    const slotCount = { adam: 2, adamw: 2, sgd: 0, momentum: 1, rmsprop: 1, lion: 1 }[options.name];
    const pool = options.name === "adam" || options.name === "adamw" ? kernelPool() : null;
    const heap = pool && tfjsHeap();
    if (pool && heap) {
      const pointers = Array.from({ length: slotCount }, () =>
        parameters.map((p) => {
          const pointer = heap.malloc(p.tensor.size * 4);
          if (pointer === 0) throw new RangeError("the WASM heap is full: no room for Adam's moments");
          new Float32Array(heap.memory.buffer, pointer, p.tensor.size).fill(0);
          return pointer;
        }));
      this.#simd = { kernel: adamKernel(pool), memory: heap.memory, free: heap.free, pointers };
    } else {
      this.#slots = Array.from({ length: slotCount }, () => parameters.map((p) => new Float32Array(p.tensor.size)));
    }
  }

  /** Frees the moments kept in the WASM heap; the optimizer cannot be used afterwards. */
  dispose(): void {
    this.#simd?.pointers.flat().forEach((pointer) => this.#simd!.free(pointer));
    this.#simd = null;
  }

  /** The state arrays, [slot][parameter]; views into the heap are made fresh, as the heap may have grown. */
  #slotArrays(): Float32Array[][] {
    const simd = this.#simd;
    if (!simd) return this.#slots;
    return simd.pointers.map((slot) =>
      slot.map((pointer, i) => new Float32Array(simd.memory.buffer, pointer, this.#parameters[i].tensor.size))
    );
  }

  /** Steps taken so far. */
  get step(): number {
    return this.#step;
  }

  /** Applies one update with learning rate `lr`, given gradients in parameter order (not disposed here). */
  apply(gradients: tf.Tensor[], lr: number): void {
    if (gradients.length !== this.#parameters.length) {
      throw new RangeError(`got ${gradients.length} gradients for ${this.#parameters.length} parameters`);
    }
    this.#step++;
    const update = UPDATE_RULES[this.options.name];
    const slots = this.#slotArrays();
    const keep = 1 - lr * this.options.weightDecay;
    for (const [i, parameter] of this.#parameters.entries()) {
      // Views are taken here, after any allocation, because the heap may have moved.
      update({
        weights: tensorMemory(parameter.tensor),
        gradients: tensorMemory(gradients[i]),
        slots: slots.map((slot) => slot[i]),
        decay: parameter.kind === "weight" ? this.options.l2 : 0,
        keep: parameter.kind === "weight" ? keep : 1,
        lr,
        step: this.#step,
        options: this.options,
        simd: this.#simd?.kernel ?? null,
      });
    }
  }

  /** The state to checkpoint (the arrays themselves, not copies). */
  state(): OptimizerState {
    return { step: this.#step, slots: this.#slotArrays() };
  }

  /** Restores a checkpointed state. */
  restore(state: OptimizerState): void {
    const slots = this.#slotArrays();
    if (state.slots.length !== slots.length) {
      throw new RangeError("optimizer state does not match this optimizer");
    }
    state.slots.forEach((slot, s) => slot.forEach((array, i) => slots[s][i].set(array)));
    this.#step = state.step;
  }
}

/** One parameter's update: its weights, gradient and state slots (updated in place). */
interface UpdateArgs {
  /** The weights, updated in place. */
  weights: Float32Array;
  /** Their gradient. */
  gradients: Float32Array;
  /** This parameter's state arrays, one per slot. */
  slots: Float32Array[];
  /** L2 coefficient for this parameter (0 for biases and BatchNorm). */
  decay: number;
  /** The weights are multiplied by this before the update: 1 − lr·weightDecay for weights, else 1. */
  keep: number;
  /** Learning rate. */
  lr: number;
  /** 1-based step number. */
  step: number;
  /** Optimizer settings. */
  options: Required<OptimizerOptions>;
  /** Adam's SIMD kernel, when the state lives in the WASM heap. */
  simd: AdamKernel | null;
}

/** Adam (PyTorch's form): w -= lr·m̂/(√v̂+ε), with the SIMD kernel doing whole groups of four when it can. */
function adamUpdate(
  { weights: w, gradients: g, slots: [m, v], decay, keep, lr, step, options, simd }: UpdateArgs,
): void {
  const { beta1, beta2, epsilon } = options;
  const c1 = 1 - beta1 ** step, c2 = Math.sqrt(1 - beta2 ** step);
  const stepSize = lr / c1, eps = epsilon * c2;
  // w -= lr·m̂/(√v̂+ε)  ==  w -= (lr/c1)·m/(√v + ε·c2)·c2
  const n = w.length;
  let start = 0;
  if (simd) {
    simd({
      weights: w.byteOffset,
      gradients: g.byteOffset,
      m: m.byteOffset,
      v: v.byteOffset,
      count: n,
      beta1,
      beta2,
      decay,
      scale: stepSize * c2,
      epsilon: eps,
      keep,
    });
    start = n - (n % 4); // the kernel does whole groups of four; the rest is done here
  }
  for (let k = start; k < n; k++) {
    if (keep !== 1) w[k] *= keep;
    const grad = g[k] + decay * w[k];
    const mk = beta1 * m[k] + (1 - beta1) * grad;
    const vk = beta2 * v[k] + (1 - beta2) * grad * grad;
    m[k] = mk;
    v[k] = vk;
    w[k] -= stepSize * c2 * mk / (Math.sqrt(vk) + eps);
  }
}

/** Plain gradient descent: w -= lr·(g + decay·w). */
function sgdUpdate({ weights: w, gradients: g, decay, keep, lr }: UpdateArgs): void {
  if (keep !== 1) scaleInPlace(w, keep);
  for (let k = 0; k < w.length; k++) w[k] -= lr * (g[k] + decay * w[k]);
}

/** Heavy-ball momentum (PyTorch's form): b = β·b + g; w -= lr·b. */
function momentumUpdate({ weights: w, gradients: g, slots: [buffer], decay, keep, lr, options }: UpdateArgs): void {
  if (keep !== 1) scaleInPlace(w, keep);
  for (let k = 0; k < w.length; k++) {
    const b = options.beta1 * buffer[k] + g[k] + decay * w[k];
    buffer[k] = b;
    w[k] -= lr * b;
  }
}

/** RMSprop: s = ρ·s + (1-ρ)·g²; w -= lr·g/(√s + ε). */
function rmspropUpdate({ weights: w, gradients: g, slots: [square], decay, keep, lr, options }: UpdateArgs): void {
  if (keep !== 1) scaleInPlace(w, keep);
  const { beta2, epsilon } = options;
  for (let k = 0; k < w.length; k++) {
    const grad = g[k] + decay * w[k];
    const s = beta2 * square[k] + (1 - beta2) * grad * grad;
    square[k] = s;
    w[k] -= lr * grad / (Math.sqrt(s) + epsilon);
  }
}

/**
 * Lion: w -= lr·sign(β1·m + (1−β1)·g); m = β2·m + (1−β2)·g (the weight decay is applied before, decoupled).
 * A zero gives a zero step, as torch.sign.
 */
function lionUpdate({ weights: w, gradients: g, slots: [m], decay, keep, lr, options }: UpdateArgs): void {
  const { beta1, beta2 } = options;
  for (let k = 0; k < w.length; k++) {
    if (keep !== 1) w[k] *= keep;
    const grad = g[k] + decay * w[k];
    const direction = beta1 * m[k] + (1 - beta1) * grad;
    w[k] -= lr * (direction > 0 ? 1 : direction < 0 ? -1 : 0);
    m[k] = beta2 * m[k] + (1 - beta2) * grad;
  }
}

/** values ← values·factor. */
function scaleInPlace(values: Float32Array, factor: number): void {
  for (let k = 0; k < values.length; k++) values[k] *= factor;
}

const UPDATE_RULES: Record<OptimizerName, (args: UpdateArgs) => void> = {
  adam: adamUpdate,
  adamw: adamUpdate,
  sgd: sgdUpdate,
  momentum: momentumUpdate,
  rmsprop: rmspropUpdate,
  lion: lionUpdate,
};
