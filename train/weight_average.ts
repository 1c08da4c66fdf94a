/**
 * An exponential moving average of a net's weights (Polyak averaging, as timm's ModelEma keeps it): after
 * every step a ← d·a + (1 − d)·w for every tensor of the net, BatchNorm's moving statistics included. Early on
 * the decay is min(d, (1 + n)/(10 + n)) after n updates (TensorFlow's ExponentialMovingAverage with
 * num_updates), so that a short run's average is not dominated by its random initialisation.
 * @module
 */
import { tensorMemory, type tf } from "../engine/mod.ts";

/** The average of a net's tensors, in host memory. */
export class WeightAverage {
  /** The averaged values, one array per tensor, in the tensors' order. */
  readonly values: Float32Array[];
  /** The decay d. */
  readonly decay: number;
  #updates: number;

  /** Starts the average at the tensors' current values, or at `restored` (from a checkpoint). */
  constructor(tensors: tf.Tensor[], decay: number, restored?: { values: Float32Array[]; updates: number }) {
    this.decay = decay;
    this.values = restored?.values ?? tensors.map((t) => tensorMemory(t).slice());
    this.#updates = restored?.updates ?? 0;
    if (this.values.length !== tensors.length || this.values.some((v, i) => v.length !== tensors[i].size)) {
      throw new RangeError("the saved average does not match this net's tensors");
    }
  }

  /** Updates taken so far. */
  get updates(): number {
    return this.#updates;
  }

  /** Moves the average towards the tensors' current values. */
  update(tensors: tf.Tensor[]): void {
    const d = Math.min(this.decay, (1 + this.#updates) / (10 + this.#updates));
    this.#updates++;
    for (const [i, tensor] of tensors.entries()) {
      const w = tensorMemory(tensor), a = this.values[i];
      for (let k = 0; k < a.length; k++) a[k] = d * a[k] + (1 - d) * w[k];
    }
  }

  /** Runs `work` with the tensors holding the average, then puts their own values back, whatever happens. */
  async swapIn<T>(tensors: tf.Tensor[], work: () => Promise<T>): Promise<T> {
    const own = tensors.map((t) => tensorMemory(t).slice());
    tensors.forEach((t, i) => tensorMemory(t).set(this.values[i]));
    try {
      return await work();
    } finally {
      tensors.forEach((t, i) => tensorMemory(t).set(own[i]));
    }
  }
}
