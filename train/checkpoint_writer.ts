/**
 * Checkpoints written in the background while the next epoch trains: the epoch loop hands over a copy of the
 * weights and optimizer state and goes on; a failure surfaces, naming the epoch, when the loop next waits.
 * @module
 */
import type { resumeKey } from "./config.ts";
import { CheckpointError, saveCheckpoint } from "./checkpoint.ts";
import type { EpochRecord } from "./run_record.ts";

/** What one checkpoint of a training run holds (saveCheckpoint's arguments). */
export interface CheckpointContent {
  state: Parameters<typeof saveCheckpoint<ReturnType<typeof resumeKey>, EpochRecord>>[1];
  data: Parameters<typeof saveCheckpoint>[2];
}

/** Checkpoints written in the background, one at a time; a failure surfaces at the next start or finish. */
export class CheckpointWriter {
  #dir: string;
  #pending: { epoch: number; done: Promise<void> } | null = null;

  /** A writer into checkpoint folder `dir`. */
  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Waits for the previous checkpoint, then starts writing this one (its live state is copied at once). */
  async start(state: CheckpointContent["state"], data: CheckpointContent["data"]): Promise<void> {
    await this.finish();
    const done = saveCheckpoint(this.#dir, state, data);
    done.catch(() => {}); // handled in finish(); until then a failure must not count as unhandled
    this.#pending = { epoch: state.epoch, done };
  }

  /** Waits for the checkpoint being written, if any; throws a CheckpointError naming it when it failed. */
  async finish(): Promise<void> {
    const pending = this.#pending;
    if (!pending) return;
    this.#pending = null;
    try {
      await pending.done;
    } catch (error) {
      const epoch = pending.epoch - 1;
      const intact = epoch > 0 ? `the checkpoint of epoch ${epoch} is intact` : "no earlier checkpoint exists";
      throw new CheckpointError(
        `Cannot write the checkpoint of epoch ${pending.epoch} into ${this.#dir}: ${(error as Error).message}. ` +
          `Nothing was half-written (${intact}); make room, then continue with {resume}`,
        { cause: error },
      );
    }
  }
}
