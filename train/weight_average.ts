/**
 * An exponential moving average of a net's weights (Polyak averaging, as timm's ModelEma keeps it): after
 * every step a ← d·a + (1 − d)·w for every tensor of the net, BatchNorm's moving statistics included. Early on
 * the decay is min(d, (1 + n)/(10 + n)) after n updates (TensorFlow's ExponentialMovingAverage with
 * num_updates), so that a short run's average is not dominated by its random initialisation.
 *
 * On the WASM backend the average lives in the tfjs heap beside the weights and the kernel pool's `ema` kernel
 * updates it, four floats at a time on every thread (a JavaScript pass over part of a 10 M-parameter net took
 * ~10 ms a step); elsewhere it is a JavaScript loop over ordinary arrays.
 * @module
 */
import { fourFloatRanges, kernelPool, tensorMemory, type tf, tfjsHeap } from "../engine/mod.ts";

/** The average of a net's tensors. */
export class WeightAverage {
  /** The decay d. */
  readonly decay: number;
  #updates: number;
  #sizes: number[];
  /** Host arrays (no kernel pool), or heap pointers and how to view and free them. */
  #host: Float32Array[] | null = null;
  #heap: { memory: WebAssembly.Memory; free: (pointer: number) => void; pointers: number[] } | null = null;

  /** Starts the average at the tensors' current values, or at `restored` (from a checkpoint). */
  constructor(tensors: tf.Tensor[], decay: number, restored?: { values: Float32Array[]; updates: number }) {
    this.decay = decay;
    this.#updates = restored?.updates ?? 0;
    this.#sizes = tensors.map((t) => t.size);
    if (
      restored &&
      (restored.values.length !== tensors.length || restored.values.some((v, i) => v.length !== tensors[i].size))
    ) {
      throw new RangeError("the saved average does not match this net's tensors");
    }
    const heap = kernelPool() && tfjsHeap();
    if (heap) {
      const pointers = this.#sizes.map((size) => {
        const pointer = heap.malloc(size * 4);
        if (pointer === 0) throw new RangeError("the WASM heap is full: no room for the average of the weights");
        return pointer;
      });
      this.#heap = { memory: heap.memory, free: heap.free, pointers };
    } else {
      this.#host = this.#sizes.map((size) => new Float32Array(size));
    }
    // Views are taken after every allocation: the heap may have moved.
    this.values.forEach((v, i) => v.set(restored?.values[i] ?? tensorMemory(tensors[i])));
  }

  /** The averaged values, one array per tensor in the tensors' order (views of live state: copy to keep). */
  get values(): Float32Array[] {
    const heap = this.#heap;
    if (!heap) return this.#host!;
    return heap.pointers.map((pointer, i) => new Float32Array(heap.memory.buffer, pointer, this.#sizes[i]));
  }

  /** Updates taken so far. */
  get updates(): number {
    return this.#updates;
  }

  /** Moves the average towards the tensors' current values. */
  update(tensors: tf.Tensor[]): void {
    const d = Math.min(this.decay, (1 + this.#updates) / (10 + this.#updates));
    this.#updates++;
    const pool = kernelPool();
    const values = this.values;
    for (const [i, tensor] of tensors.entries()) {
      const w = tensorMemory(tensor), a = values[i];
      let start = 0;
      if (pool && this.#heap) {
        // Whole groups of four on the pool's threads, one range each; the rest below.
        const ranges = fourFloatRanges(a.length, pool);
        pool.run(
          "ema",
          ranges.map((
            [first, last],
          ) => [a.byteOffset + 4 * first, w.byteOffset + 4 * first, 4 * (last - first), d, 1 - d]),
        );
        start = ranges.at(-1)![1];
      }
      for (let k = start; k < a.length; k++) a[k] = d * a[k] + (1 - d) * w[k];
    }
  }

  /** Runs `work` with the tensors holding the average, then puts their own values back, whatever happens. */
  async swapIn<T>(tensors: tf.Tensor[], work: () => Promise<T>): Promise<T> {
    const own = tensors.map((t) => tensorMemory(t).slice());
    const values = this.values;
    tensors.forEach((t, i) => tensorMemory(t).set(values[i]));
    try {
      return await work();
    } finally {
      tensors.forEach((t, i) => tensorMemory(t).set(own[i]));
    }
  }

  /** Frees the average's memory in the heap; it cannot be used afterwards. */
  dispose(): void {
    this.#heap?.pointers.forEach((pointer) => this.#heap!.free(pointer));
    this.#heap = null;
  }
}
