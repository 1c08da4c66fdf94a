/**
 * The WebAssembly text (WAT) of the "nt" product: C[M×N] (+)= A[M×K] · B[N×K]ᵀ, both
 * operands row-major and read along k, as dot products.
 *
 * It exists for the first layer's forward pass, W[out×in] times the batch X[batch×in]
 * as the loaders deliver it: with the broadcast kernels of gemm_source.ts that product
 * needs Xᵀ, and transposing the batch (13 MB at batch 64) costs part3 ~3% of a step
 * and part1 more than half of one. Each tile keeps 3×3 running sums, each a vector
 * of four partial sums over k (9 of the 16 vector registers, plus the three rows of A
 * and one of B), and adds their lanes into C at the end of a block of k. The 1-3
 * values of k left after the fours are loaded with zeros in the unused lanes.
 * @module
 */
import { driverHead } from "./gemm_source.ts";

/** Rows of A and of B per tile. */
export const NT_TILE = 3;
/** k per block: 64 rows of B × 512 floats is 128 KiB, in L2; three rows of A, 6 KiB, in L1. */
export const NT_K_BLOCK = 512;

/** The functions of the nt product (`gemm_nt` and its tiles), to be put in the kernels' module. */
export function gemmNtFunctions(fusedMultiplyAdd: boolean): string {
  const functions: string[] = [];
  for (let rows = 1; rows <= NT_TILE; rows++) {
    for (let columns = 1; columns <= NT_TILE; columns++) functions.push(tile(rows, columns, fusedMultiplyAdd));
  }
  functions.push(driver());
  return functions.join("\n");
}

const name = (rows: number, columns: number) => `$nt_${rows}x${columns}`;

/**
 * One tile: C[rows × columns] (+)= A[rows × kc] · B[columns × kc]ᵀ. Parameters: $a (A[i][k0]), $sa (bytes
 * between rows of A), $b (B[j][k0]), $sb (bytes between rows of B), $c, $sc (bytes between rows of C), $kc,
 * $load (1: add to C, 0: overwrite it).
 */
function tile(rows: number, columns: number, fma: boolean): string {
  const acc = (r: number, s: number) => `$c${r}_${s}`;
  const a = (r: number) => `$a${r}`;
  const b = (s: number) => `$b${s}`;
  const madd = (x: string, y: string, z: string) =>
    fma ? `(f32x4.relaxed_madd ${x} ${y} ${z})` : `(f32x4.add (f32x4.mul ${x} ${y}) ${z})`;
  const out: string[] = [];
  out.push(
    `  (func ${name(rows, columns)} (param $a i32) (param $sa i32) (param $b i32) (param $sb i32)` +
      ` (param $c i32) (param $sc i32) (param $kc i32) (param $load i32)`,
  );
  const locals = [`(local $x v128) (local $k i32) (local $cr i32) (local $sum f32)`];
  for (let r = 0; r < rows; r++) locals.push(`(local ${a(r)} i32) (local $va${r} v128)`);
  for (let s = 0; s < columns; s++) locals.push(`(local ${b(s)} i32)`);
  for (let r = 0; r < rows; r++) for (let s = 0; s < columns; s++) locals.push(`(local ${acc(r, s)} v128)`);
  out.push("    " + locals.join(" "));
  for (let r = 0; r < rows; r++) {
    out.push(
      `    (local.set ${a(r)} ${r === 0 ? "(local.get $a)" : `(i32.add (local.get ${a(r - 1)}) (local.get $sa))`})`,
    );
  }
  for (let s = 0; s < columns; s++) {
    out.push(
      `    (local.set ${b(s)} ${s === 0 ? "(local.get $b)" : `(i32.add (local.get ${b(s - 1)}) (local.get $sb))`})`,
    );
  }
  /**
   * One step of four k at byte `offset` from the row pointers (or of the 1-3 left, `lanes`): load A's rows, then
   * per row of B its vector and the products.
   */
  const step = (lanes: number, offset = 0) => {
    const load = (pointer: string) =>
      lanes === 4
        ? `(v128.load offset=${offset} align=4 (local.get ${pointer}))`
        : lanes === 1
        ? `(v128.load32_zero align=4 (local.get ${pointer}))`
        : lanes === 2
        ? `(v128.load64_zero align=4 (local.get ${pointer}))`
        : `(v128.load32_lane offset=8 align=4 2 (local.get ${pointer}) (v128.load64_zero align=4 (local.get ${pointer})))`;
    const lines: string[] = [];
    for (let r = 0; r < rows; r++) lines.push(`      (local.set $va${r} ${load(a(r))})`);
    for (let s = 0; s < columns; s++) {
      lines.push(`      (local.set $x ${load(b(s))})`);
      for (let r = 0; r < rows; r++) {
        lines.push(
          `      (local.set ${acc(r, s)} ${madd(`(local.get $va${r})`, "(local.get $x)", `(local.get ${acc(r, s)})`)})`,
        );
      }
    }
    return lines;
  };
  /** Moves every row pointer on by `bytes`. */
  const advance = (bytes: number) =>
    [
      ...Array.from({ length: rows }, (_, r) => a(r)),
      ...Array.from({ length: columns }, (_, s) => b(s)),
    ].map((pointer) => `      (local.set ${pointer} (i32.add (local.get ${pointer}) (i32.const ${bytes})))`);
  out.push(`    (local.set $k (local.get $kc))`);
  // Sixteen k per turn (four steps at immediate offsets, then one pointer update per row), then fours.
  out.push(`    (block $sixteens_done (loop $sixteens`);
  out.push(`      (br_if $sixteens_done (i32.lt_u (local.get $k) (i32.const 16)))`);
  for (let u = 0; u < 4; u++) out.push(...step(4, 16 * u));
  out.push(...advance(64));
  out.push(`      (local.set $k (i32.sub (local.get $k) (i32.const 16)))`, `      (br $sixteens)))`);
  out.push(`    (block $fours_done (loop $fours`, `      (br_if $fours_done (i32.lt_u (local.get $k) (i32.const 4)))`);
  out.push(...step(4), ...advance(16));
  out.push(`      (local.set $k (i32.sub (local.get $k) (i32.const 4)))`, `      (br $fours)))`);
  // The 1-3 left, zeros in the other lanes.
  out.push(`    (block $none (block $one (block $two (block $three`);
  out.push(`      (br_table $none $one $two $three (local.get $k)))`);
  out.push(...step(3), `      (br $none))`);
  out.push(...step(2), `      (br $none))`);
  out.push(...step(1), `)`);
  // Each sum's four lanes, added (to C, when loading).
  out.push(`    (local.set $cr (local.get $c))`);
  for (let r = 0; r < rows; r++) {
    for (let s = 0; s < columns; s++) {
      const lane = (l: number) => `(f32x4.extract_lane ${l} (local.get ${acc(r, s)}))`;
      out.push(
        `    (local.set $sum (f32.add (f32.add ${lane(0)} ${lane(1)}) (f32.add ${lane(2)} ${lane(3)})))`,
        `    (f32.store offset=${4 * s} (local.get $cr) (select (f32.add (f32.load offset=${
          4 * s
        } (local.get $cr)) (local.get $sum)) (local.get $sum) (local.get $load)))`,
      );
    }
    if (r < rows - 1) out.push(`    (local.set $cr (i32.add (local.get $cr) (local.get $sc)))`);
  }
  out.push(`  )`);
  return out.join("\n");
}

/**
 * `gemm_nt(m, n, k, a, lda, b, ldb, c, ldc, accumulate, pack, scratch)` (the last two unused, so that it takes
 * the other products' arguments): pointers in bytes, leading dimensions in floats. Loop order: k blocks, tiles
 * of A's rows, tiles of B's rows, so a tile's rows of A stay in L1 and B's block in L2.
 */
function driver(): string {
  const call = (rows: number, columns: number) =>
    `(call ${name(rows, columns)} ` +
    `(i32.add (local.get $a) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $lda)) (local.get $k0)) (i32.const 2))) ` +
    `(local.get $sa) ` +
    `(i32.add (local.get $b) (i32.shl (i32.add (i32.mul (local.get $j) (local.get $ldb)) (local.get $k0)) (i32.const 2))) ` +
    `(local.get $sb) ` +
    `(i32.add (local.get $c) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $ldc)) (local.get $j)) (i32.const 2))) ` +
    `(local.get $sc) (local.get $kc) (local.get $load))`;
  /** The tiles of B's rows for `rows` rows of A: threes, then one tile of the 1-2 left. */
  const columns = (rows: number) => `
          (local.set $j (i32.const 0))
          (block $threes_done (loop $threes
            (br_if $threes_done (i32.gt_u (i32.add (local.get $j) (i32.const ${NT_TILE})) (local.get $n)))
            ${call(rows, NT_TILE)}
            (local.set $j (i32.add (local.get $j) (i32.const ${NT_TILE})))
            (br $threes)))
          (block $none (block $one (block $two
            (br_table $none $two $one (i32.sub (local.get $n) (local.get $j))))
            ${call(rows, 1)} (br $none))
            ${call(rows, 2)})`;
  return `${driverHead("gemm_nt", "")}
    (block $k_done (loop $k_blocks
      (br_if $k_done (i32.ge_u (local.get $k0) (local.get $k)))
      (local.set $kc (select (i32.const ${NT_K_BLOCK}) (i32.sub (local.get $k) (local.get $k0))
        (i32.lt_u (i32.const ${NT_K_BLOCK}) (i32.sub (local.get $k) (local.get $k0)))))
      (local.set $load (i32.or (local.get $accumulate) (i32.ne (local.get $k0) (i32.const 0))))
      (local.set $i (i32.const 0))
      (block $rows_done (loop $row_tiles
        (br_if $rows_done (i32.gt_u (i32.add (local.get $i) (i32.const ${NT_TILE})) (local.get $m)))${columns(NT_TILE)}
        (local.set $i (i32.add (local.get $i) (i32.const ${NT_TILE})))
        (br $row_tiles)))
      (block $rows_left_done (block $left_2 (block $left_1 (block $left_0
        (br_table $left_0 $left_1 $left_2 (i32.sub (local.get $m) (local.get $i))))
        (br $rows_left_done))${columns(1)}
        (br $rows_left_done))${columns(2)})
      (local.set $k0 (i32.add (local.get $k0) (i32.const ${NT_K_BLOCK})))
      (br $k_blocks)))
  )`;
}
