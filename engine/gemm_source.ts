/**
 * The WebAssembly text (WAT) of the matrix-product kernels in gemm.ts.
 *
 * C[M×N] (+)= A·B, with B row-major [K×N] and A read one element at a time and
 * broadcast ("splat") across a vector, so each step of k is an outer product:
 * `rows` elements of A times `lanes` columns of B into `rows × lanes` running sums
 * held in registers. A is either row-major [M×K] ("nn") or stored transposed, [K×M]
 * ("tn"); the engine's three products are
 * - forward     Zᵀ[out×batch]  = W[out×in] · Xᵀ[in×batch]   (nn)
 * - weight grad dW[out×in]     = dZ[out×batch] · X[batch×in] (nn)
 * - input grad  dXᵀ[in×batch]  = Wᵀ · dZ[out×batch]         (tn)
 *
 * The 6×8 register tile uses 12 accumulators, two B vectors and one broadcast: 15
 * of x64's 16 vector registers (V8 keeps one as scratch). The driver blocks k by
 * {@linkcode K_BLOCK} and n by {@linkcode N_BLOCK} so that the slice of B being
 * reused stays in L2 while the 6 rows of A stay in L1. Edges use 1-row tiles and
 * 4/3/2/1-column tiles whose loads and stores touch only the valid columns, so no
 * kernel reads or writes outside its operands.
 *
 * The text is generated because the tiles are the same code unrolled; every
 * generated line is plain WAT, compiled at start-up by wabt (kernel_pool.ts).
 * @module
 */

/** Rows of A per main tile. */
export const TILE_ROWS = 6;
/** k per block: a 256×64 slice of B is 64 KiB, comfortably in L2. */
export const K_BLOCK = 256;
/** n per block: for the weight gradient (k = batch) a 64×512 slice of B is 128 KiB. */
export const N_BLOCK = 512;
/** tn: rows of C (columns of the stored A) per block of A packed into row-tile panels: 256×96 floats, 96 KiB. */
export const M_BLOCK = 96;

/** Which way A is stored. */
export type Layout = "nn" | "tn";

/** The product functions (`gemm_nn`, `gemm_tn` and their tiles), to be put in a module importing `env.memory`. */
export function gemmFunctions(fusedMultiplyAdd: boolean): string {
  const functions: string[] = [];
  for (const layout of ["nn", "tn"] as const) {
    for (let rows = TILE_ROWS; rows >= 1; rows--) {
      for (const lanes of [8, 4, 3, 2, 1]) functions.push(tile(layout, rows, lanes, fusedMultiplyAdd));
    }
    functions.push(driver(layout));
  }
  return functions.join("\n");
}

const name = (layout: Layout, rows: number, lanes: number) => `$${layout}_${rows}x${lanes}`;

/** Loads `lanes` (1-4) floats at byte `offset` from the address on the stack, zeros in the rest. */
function loadLanes(lanes: number, address: string, offset: number): string {
  if (lanes === 4) return `(v128.load offset=${offset} align=4 ${address})`;
  if (lanes === 1) return `(v128.load32_zero offset=${offset} align=4 ${address})`;
  if (lanes === 2) return `(v128.load64_zero offset=${offset} align=4 ${address})`;
  return `(v128.load32_lane offset=${
    offset + 8
  } align=4 2 ${address} (v128.load64_zero offset=${offset} align=4 ${address}))`;
}

/** Stores the first `lanes` (1-4) floats of `value` at byte `offset` of `address`. */
function storeLanes(lanes: number, address: string, offset: number, value: string): string {
  if (lanes === 4) return `(v128.store offset=${offset} align=4 ${address} ${value})`;
  if (lanes === 1) return `(v128.store32_lane offset=${offset} align=4 0 ${address} ${value})`;
  if (lanes === 2) return `(v128.store64_lane offset=${offset} align=4 0 ${address} ${value})`;
  return `(v128.store64_lane offset=${offset} align=4 0 ${address} ${value})\n` +
    `      (v128.store32_lane offset=${offset + 8} align=4 2 ${address} ${value})`;
}

/**
 * One register tile: C[rows × lanes] (+)= A[rows × kc] · B[kc × lanes].
 * Parameters: $a (A[i][k0]; tn: its packed panel, TILE_ROWS floats per k), $sa (nn: bytes between rows of A;
 * tn: unused), $b, $sb (bytes between rows of B), $c, $sc (bytes between rows of C), $kc, $load (1: add to C, 0:
 * overwrite it).
 */
function tile(layout: Layout, rows: number, lanes: number, fma: boolean): string {
  const vectors = lanes === 8 ? 2 : 1;
  const vectorLanes = (v: number) => (lanes === 8 ? 4 : lanes) + 0 * v;
  const acc = (r: number, v: number) => `$c${r}_${v}`;
  const rowsOfA = layout === "nn" ? rows : 1; // nn: a pointer per row of A; tn: the row's elements are adjacent
  const madd = (a: string, b: string, c: string) =>
    fma ? `(f32x4.relaxed_madd ${a} ${b} ${c})` : `(f32x4.add (f32x4.mul ${a} ${b}) ${c})`;
  const out: string[] = [];
  out.push(
    `  (func ${name(layout, rows, lanes)} (param $a i32) (param $sa i32) (param $b i32) (param $sb i32)` +
      ` (param $c i32) (param $sc i32) (param $kc i32) (param $load i32)`,
  );
  const locals = [`(local $x0 v128) (local $x1 v128) (local $s v128) (local $cr i32)`];
  for (let r = 0; r < rows; r++) for (let v = 0; v < vectors; v++) locals.push(`(local ${acc(r, v)} v128)`);
  for (let r = 1; r < rowsOfA; r++) locals.push(`(local $a${r} i32)`);
  out.push("    " + locals.join(" "));
  // The running sums start from C (when adding to it) or from zero.
  out.push(`    (if (local.get $load) (then`, `      (local.set $cr (local.get $c))`);
  for (let r = 0; r < rows; r++) {
    for (let v = 0; v < vectors; v++) {
      out.push(`      (local.set ${acc(r, v)} ${loadLanes(vectorLanes(v), "(local.get $cr)", 16 * v)})`);
    }
    if (r < rows - 1) out.push(`      (local.set $cr (i32.add (local.get $cr) (local.get $sc)))`);
  }
  out.push(`    ))`);
  for (let r = 1; r < rowsOfA; r++) {
    out.push(`    (local.set $a${r} (i32.add (local.get ${r === 1 ? "$a" : `$a${r - 1}`}) (local.get $sa)))`);
  }
  const rowPointer = (r: number) => (r === 0 ? "$a" : `$a${r}`);
  /** One step of k: load B's row, then per row of A a broadcast and the multiply-adds; `u` is the unrolled step. */
  const step = (u: number) => {
    const lines: string[] = [];
    for (let v = 0; v < vectors; v++) {
      lines.push(`      (local.set $x${v} ${loadLanes(vectorLanes(v), "(local.get $b)", 16 * v)})`);
    }
    for (let r = 0; r < rows; r++) {
      const splat = layout === "nn"
        ? `(v128.load32_splat offset=${4 * u} align=4 (local.get ${rowPointer(r)}))`
        : `(v128.load32_splat offset=${4 * (TILE_ROWS * u + r)} align=4 (local.get $a))`;
      lines.push(`      (local.set $s ${splat})`);
      for (let v = 0; v < vectors; v++) {
        lines.push(
          `      (local.set ${acc(r, v)} ${madd("(local.get $s)", `(local.get $x${v})`, `(local.get ${acc(r, v)})`)})`,
        );
      }
    }
    lines.push(`      (local.set $b (i32.add (local.get $b) (local.get $sb)))`);
    return lines;
  };
  /** Moves A on by `steps` steps of k: nn's row pointers by a float each, tn's panel by a row of it. */
  const advanceA = (steps: number) =>
    Array.from(
      { length: rowsOfA },
      (_, r) =>
        `      (local.set ${rowPointer(r)} (i32.add (local.get ${rowPointer(r)}) ` +
        `(i32.const ${4 * steps * (layout === "nn" ? 1 : TILE_ROWS)})))`,
    );
  // Four steps of k per turn: a quarter of the loop's own work (counter, branch, and the interrupt check V8
  // puts at every loop head), and A's four steps one immediate offset apart: nn's four elements of each row,
  // tn's four rows of its packed panel (TILE_ROWS floats each, whatever the tile's height; moving the pointer
  // by $sa at each step instead ran the tile 4-9% slower on operands in L1).
  out.push(`    (block $tail (loop $four`, `      (br_if $tail (i32.lt_u (local.get $kc) (i32.const 4)))`);
  for (let u = 0; u < 4; u++) out.push(...step(u));
  out.push(...advanceA(4));
  out.push(`      (local.set $kc (i32.sub (local.get $kc) (i32.const 4)))`, `      (br $four)))`);
  out.push(`    (block $done (loop $one`, `      (br_if $done (i32.eqz (local.get $kc)))`);
  out.push(...step(0));
  out.push(...advanceA(1));
  out.push(`      (local.set $kc (i32.sub (local.get $kc) (i32.const 1)))`, `      (br $one)))`);
  // Store the sums.
  out.push(`    (local.set $cr (local.get $c))`);
  for (let r = 0; r < rows; r++) {
    for (let v = 0; v < vectors; v++) {
      out.push("    " + storeLanes(vectorLanes(v), "(local.get $cr)", 16 * v, `(local.get ${acc(r, v)})`));
    }
    if (r < rows - 1) out.push(`    (local.set $cr (i32.add (local.get $cr) (local.get $sc)))`);
  }
  out.push(`  )`);
  return out.join("\n");
}

/**
 * Copies the whole groups of 8 columns of B's block (rows k0..k0+kc, columns j0..j1) into panels of kc × 8, one
 * after another in the scratch buffer: an 8-column tile then reads its B as one contiguous stream, 32 bytes per
 * step of k, instead of 32 bytes from each of kc rows ldb apart (rows a multiple of 1 KiB apart all fall in a
 * few sets of the 8-way L1 cache and evict each other). The block is read once more only, and the copy serves
 * every row tile of the band. The 1-7 columns left are read in place.
 */
function packPanels(): string {
  return `
          (local.set $row (i32.const 0))
          (block $rows_packed (loop $pack_rows
            (br_if $rows_packed (i32.ge_u (local.get $row) (local.get $kc)))
            (local.set $from (i32.add (local.get $b) (i32.shl (i32.add (i32.mul (i32.add (local.get $k0)
              (local.get $row)) (local.get $ldb)) (local.get $j0)) (i32.const 2))))
            (local.set $to (i32.add (local.get $scratch) (i32.shl (local.get $row) (i32.const 5))))
            (local.set $end (i32.add (local.get $from) (i32.shl (i32.and (i32.sub (local.get $j1) (local.get $j0))
              (i32.const -8)) (i32.const 2))))
            (block $panels_done (loop $panels
              (br_if $panels_done (i32.ge_u (local.get $from) (local.get $end)))
              (v128.store align=4 (local.get $to) (v128.load align=4 (local.get $from)))
              (v128.store offset=16 align=4 (local.get $to) (v128.load offset=16 align=4 (local.get $from)))
              (local.set $from (i32.add (local.get $from) (i32.const 32)))
              (local.set $to (i32.add (local.get $to) (i32.shl (local.get $kc) (i32.const 5))))
              (br $panels)))
            (local.set $row (i32.add (local.get $row) (i32.const 1)))
            (br $pack_rows)))`;
}

/**
 * The head every product's exported function shares (named as exported, so the probes can call it): its 12 parameters (see {@linkcode driver}), the locals
 * of the loops, `extraLocals`, and the leading dimensions turned into bytes ($sa, $sb, $sc).
 */
export function driverHead(exportName: string, extraLocals: string): string {
  return `  (func $${exportName} (export "${exportName}") (param $m i32) (param $n i32) (param $k i32) (param $a i32) (param $lda i32)
    (param $b i32) (param $ldb i32) (param $c i32) (param $ldc i32) (param $accumulate i32) (param $pack i32)
    (param $scratch i32)
    (local $sa i32) (local $sb i32) (local $sc i32) (local $i i32) (local $j i32) (local $k0 i32) (local $kc i32)
    (local $load i32) ${extraLocals}
    (local.set $sa (i32.shl (local.get $lda) (i32.const 2)))
    (local.set $sb (i32.shl (local.get $ldb) (i32.const 2)))
    (local.set $sc (i32.shl (local.get $ldc) (i32.const 2)))`;
}

/** Bytes of B's panels in a thread's scratch; tn's packed block of A follows them. */
const PANEL_BYTES = 4 * K_BLOCK * N_BLOCK;
/** Bytes of scratch one thread needs: B's block in panels, then (tn) a block of A in row-tile panels. */
export const SCRATCH_BYTES = PANEL_BYTES + 4 * K_BLOCK * M_BLOCK;

/**
 * The blocked loops over one product:
 * `gemm_<layout>(m, n, k, a, lda, b, ldb, c, ldc, accumulate, pack, scratch)`, pointers in bytes,
 * leading dimensions in floats; `pack` copies B's blocks into panels in `scratch` ({@linkcode SCRATCH_BYTES}) first. Loop order: n blocks, k blocks, tiles of rows,
 * tiles of columns, so a tile's rows of A are reused from L1 across the columns and B's block
 * from L2 across the rows.
 */
/** The end of the block of `size` starting at local `start`: start + size, or the local `limit` if smaller. */
const blockEnd = (start: string, size: number, limit: string) =>
  `(select (i32.add (local.get ${start}) (i32.const ${size})) (local.get ${limit}) ` +
  `(i32.lt_u (i32.add (local.get ${start}) (i32.const ${size})) (local.get ${limit})))`;

function driver(layout: Layout): string {
  // Byte address of A[i][k]: nn i·lda + k, tn k·lda + i.
  const aAt = (i: string, k: string) =>
    layout === "nn"
      ? `(i32.add (local.get $a) (i32.shl (i32.add (i32.mul ${i} (local.get $lda)) ${k}) (i32.const 2)))`
      : `(i32.add (local.get $a) (i32.shl (i32.add (i32.mul ${k} (local.get $lda)) ${i}) (i32.const 2)))`;
  const bAt = (k: string, j: string) =>
    `(i32.add (local.get $b) (i32.shl (i32.add (i32.mul ${k} (local.get $ldb)) ${j}) (i32.const 2)))`;
  const cAt = (i: string, j: string) =>
    `(i32.add (local.get $c) (i32.shl (i32.add (i32.mul ${i} (local.get $ldc)) ${j}) (i32.const 2)))`;
  // B as a tile reads it, pointer and bytes per step of k: an 8-column tile's panel when packed (the panels
  // of columns j0.. start kc·8 floats apart), else B in place.
  const bTile = (lanes: number, j: string) =>
    lanes === 8
      ? `(select (i32.add (local.get $scratch) (i32.shl (i32.mul (i32.sub ${j} (local.get $j0)) (local.get $kc)) ` +
        `(i32.const 2))) ${bAt("(local.get $k0)", j)} (local.get $pack)) ` +
        `(select (i32.const 32) (local.get $sb) (local.get $pack))`
      : `${bAt("(local.get $k0)", j)} (local.get $sb)`;
  // tn's tiles read A from its packed panel (packBlockOfA), TILE_ROWS floats per step of k.
  const aTile = layout === "nn"
    ? `${aAt("(local.get $i)", "(local.get $k0)")} (local.get $sa)`
    : `(local.get $apanel) (i32.const 0)`;
  const call = (rows: number, lanes: number, j: string) =>
    `(call ${name(layout, rows, lanes)} ${aTile} ` +
    `${bTile(lanes, j)} ${cAt("(local.get $i)", j)} (local.get $sc) (local.get $kc) (local.get $load))`;
  /** Column tiles of one row tile, from $j0 to $j1: eights, then one four, then the 1-3 left. */
  const columns = (rows: number) => `
          (local.set $j (local.get $j0))
          (block $eights_done (loop $eights
            (br_if $eights_done (i32.gt_u (i32.add (local.get $j) (i32.const 8)) (local.get $j1)))
            ${call(rows, 8, "(local.get $j)")}
            (local.set $j (i32.add (local.get $j) (i32.const 8)))
            (br $eights)))
          (if (i32.le_u (i32.add (local.get $j) (i32.const 4)) (local.get $j1)) (then
            ${call(rows, 4, "(local.get $j)")}
            (local.set $j (i32.add (local.get $j) (i32.const 4)))))
          (block $none (block $one (block $two (block $three
            (br_table $none $one $two $three (i32.sub (local.get $j1) (local.get $j))))
            ${call(rows, 3, "(local.get $j)")} (br $none))
            ${call(rows, 2, "(local.get $j)")} (br $none))
            ${call(rows, 1, "(local.get $j)")})`;
  /** A br_table on the rows left after the full tiles, to one column loop per height 1-5. */
  const remainingRows = () => {
    const heights = Array.from({ length: TILE_ROWS - 1 }, (_, r) => r + 1);
    // Blocks nest outward from $left_0: a branch to $left_r lands after its block, on the code for r rows.
    let text =
      `(block $rows_left_done ${[...heights].reverse().map((r) => `(block $left_${r} `).join("")}(block $left_0\n` +
      `          (br_table $left_0 ${heights.map((r) => `$left_${r}`).join(" ")} $left_0 ` +
      `(i32.sub (local.get $rows_end) (local.get $i))))\n          (br $rows_left_done))`;
    for (const r of heights) text += `${columns(r)}\n          (br $rows_left_done))`;
    return text;
  };
  /** The row tiles from `first` to `end` (rows of C), each with its column tiles; tn moves to the next panel. */
  const rowTiles = (first: string, end: string) => `
        (local.set $i ${first})
        (local.set $rows_end ${end})
        (block $rows_done (loop $row_tiles
          (br_if $rows_done (i32.gt_u (i32.add (local.get $i) (i32.const ${TILE_ROWS})) (local.get $rows_end)))${
    columns(TILE_ROWS)
  }
          (local.set $i (i32.add (local.get $i) (i32.const ${TILE_ROWS})))${
    layout === "tn" ? "\n          (local.set $apanel (i32.add (local.get $apanel) (local.get $panel_bytes)))" : ""
  }
          (br $row_tiles)))
        ;; The 1-5 rows left: one tile of their height.
        ${remainingRows()}`;
  /**
   * tn: rows of C in blocks of M_BLOCK; each block's A (kc rows of the stored A, M_BLOCK floats of each) is first
   * copied into one panel per row tile, kc × TILE_ROWS floats, as the tile reads it. In place, a tile's steps of
   * k are a row of A apart, often a multiple of 2-8 KiB: they fall in a few sets of the L1 and L2 caches and
   * evict each other before the next column tile reads them again. The copy reads each row's M_BLOCK floats
   * as one run.
   */
  const blocksOfRows = () => `
        (local.set $panel_bytes (i32.mul (local.get $kc) (i32.const ${4 * TILE_ROWS})))
        (local.set $i0 (i32.const 0))
        (block $m_done (loop $m_blocks
          (br_if $m_done (i32.ge_u (local.get $i0) (local.get $m)))
          (local.set $i1 ${blockEnd("$i0", M_BLOCK, "$m")})
          (local.set $row (i32.const 0))
          (block $a_packed (loop $pack_a
            (br_if $a_packed (i32.ge_u (local.get $row) (local.get $kc)))
            (local.set $from ${aAt("(local.get $i0)", "(i32.add (local.get $k0) (local.get $row))")})
            (local.set $to (i32.add (local.get $apack) (i32.mul (local.get $row) (i32.const ${4 * TILE_ROWS}))))
            ;; Whole tiles' six floats, then the 1-5 of the last tile one at a time.
            (local.set $end (i32.add (local.get $from) (i32.mul (i32.div_u (i32.sub (local.get $i1) (local.get $i0))
              (i32.const ${TILE_ROWS})) (i32.const ${4 * TILE_ROWS}))))
            (block $tiles_done (loop $tiles
              (br_if $tiles_done (i32.ge_u (local.get $from) (local.get $end)))
              (v128.store (local.get $to) (v128.load align=4 (local.get $from)))
              (i64.store offset=16 (local.get $to) (i64.load offset=16 align=4 (local.get $from)))
              (local.set $from (i32.add (local.get $from) (i32.const ${4 * TILE_ROWS})))
              (local.set $to (i32.add (local.get $to) (local.get $panel_bytes)))
              (br $tiles)))
            (local.set $end (i32.add (local.get $end) (i32.shl (i32.rem_u (i32.sub (local.get $i1) (local.get $i0))
              (i32.const ${TILE_ROWS})) (i32.const 2))))
            (block $left_done (loop $left
              (br_if $left_done (i32.ge_u (local.get $from) (local.get $end)))
              (f32.store (local.get $to) (f32.load (local.get $from)))
              (local.set $from (i32.add (local.get $from) (i32.const 4)))
              (local.set $to (i32.add (local.get $to) (i32.const 4)))
              (br $left)))
            (local.set $row (i32.add (local.get $row) (i32.const 1)))
            (br $pack_a)))
          (local.set $apanel (local.get $apack))${rowTiles("(local.get $i0)", "(local.get $i1)")}
          (local.set $i0 (i32.add (local.get $i0) (i32.const ${M_BLOCK})))
          (br $m_blocks)))`;
  return `${
    driverHead(
      `gemm_${layout}`,
      "(local $j0 i32) (local $j1 i32) (local $from i32) (local $to i32) (local $end i32) (local $row i32) " +
        "(local $rows_end i32) (local $i0 i32) (local $i1 i32) (local $apack i32) (local $apanel i32) " +
        "(local $panel_bytes i32)",
    )
  }
    (local.set $apack (i32.add (local.get $scratch) (i32.const ${PANEL_BYTES})))
    (block $n_done (loop $n_blocks
      (br_if $n_done (i32.ge_u (local.get $j0) (local.get $n)))
      (local.set $j1 ${blockEnd("$j0", N_BLOCK, "$n")})
      (local.set $k0 (i32.const 0))
      (block $k_done (loop $k_blocks
        (br_if $k_done (i32.ge_u (local.get $k0) (local.get $k)))
        (local.set $kc (select (i32.const ${K_BLOCK}) (i32.sub (local.get $k) (local.get $k0))
          (i32.lt_u (i32.const ${K_BLOCK}) (i32.sub (local.get $k) (local.get $k0)))))
        (local.set $load (i32.or (local.get $accumulate) (i32.ne (local.get $k0) (i32.const 0))))
        (if (local.get $pack) (then${packPanels()}))
        ${layout === "nn" ? rowTiles("(i32.const 0)", "(local.get $m)") : blocksOfRows()}
        (local.set $k0 (i32.add (local.get $k0) (i32.const ${K_BLOCK})))
        (br $k_blocks)))
      (local.set $j0 (i32.add (local.get $j0) (i32.const ${N_BLOCK})))
      (br $n_blocks)))
  )`;
}
