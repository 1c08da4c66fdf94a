/**
 * glibc's allocator told to keep freed memory for reuse, as PyTorch's CPU users do with
 * MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_, but from inside the process (mallopt through FFI), so
 * every command gets it without an environment to set.
 *
 * By default glibc serves each allocation above 128 KiB-32 MiB (a decoded photo: 562 KB; a 227×227 record:
 * 206 KB) with a fresh mmap, and unmaps it on free: every image then pays page faults and the kernel's
 * zeroing of its pages. With allocations up to 32 MiB served from the heap and up to 512 MiB of freed heap
 * kept, those buffers are reused instead (600 photos: 330-375 -> 390-435 images/s, docs/speed.md).
 * @module
 */

/** mallopt parameter numbers (glibc malloc.h). */
const M_TRIM_THRESHOLD = -1;
const M_MMAP_THRESHOLD = -3;

/** The largest mmap threshold glibc accepts on 64-bit (HEAP_MAX_SIZE / 2). */
const MMAP_THRESHOLD = 32 << 20;
/** Freed memory at the top of the heap kept rather than returned to the system. */
const TRIM_THRESHOLD = 512 << 20;

let applied: boolean | undefined;

/**
 * Sets the allocator to keep freed memory (once per process); true when it did. Does nothing where there is
 * no glibc (macOS, Windows, musl) or FFI is not permitted: it is a speed setting, never a requirement.
 */
export function keepFreedMemory(): boolean {
  if (applied !== undefined) return applied;
  applied = false;
  if (Deno.build.os !== "linux" || Deno.build.env !== "gnu") return applied;
  try {
    const libc = Deno.dlopen("libc.so.6", { mallopt: { parameters: ["i32", "i32"], result: "i32" } });
    // mallopt returns 1 on success.
    const mmap = libc.symbols.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    const trim = libc.symbols.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    applied = mmap === 1 && trim === 1;
  } catch {
    // no glibc, or --allow-ffi not given: run with the default allocator
  }
  return applied;
}
