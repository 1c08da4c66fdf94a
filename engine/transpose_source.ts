/**
 * The WebAssembly text (WAT) of the transpose kernel: the batch's chunks [batch, chunk] become [chunk, batch]
 * for the first layer's product, and activations [features, batch] become [batch, features] for the weight
 * gradients. tfjs' own Transpose is a scalar loop on one thread (~0.7 ms per 64 × 4,096 chunk, ~10 ms of a
 * part3 step); this one moves 4 × 4 blocks with shuffles, in tiles of 64 columns so that the rows it writes
 * stay in L1, and the pool splits the rows between its threads.
 * @module
 */

/** Columns per tile: 64 rows of the output, written while they are in L1. */
const TILE_COLUMNS = 64;

/** Byte lanes of `i8x16.shuffle` taking float lanes `lanes` (0-3 from the first operand, 4-7 the second). */
function floatLanes(lanes: number[]): string {
  return lanes.flatMap((lane) => [0, 1, 2, 3].map((b) => 4 * lane + b)).join(" ");
}

/** The four output rows of a block (columns c..c+3 of the four source rows), each stored a target row apart. */
function outputRows(): string {
  const halves: [string, string, number[]][] = [
    ["$t0", "$a", [0, 1, 4, 5]],
    ["$t0", "$a", [2, 3, 6, 7]],
    ["$t1", "$b", [0, 1, 4, 5]],
    ["$t1", "$b", [2, 3, 6, 7]],
  ];
  return halves.map(([x, y, lanes]) =>
    `(v128.store align=4 (local.get $to) (i8x16.shuffle ${floatLanes(lanes)} (local.get ${x}) (local.get ${y})))`
  ).join("\n          (local.set $to (i32.add (local.get $to) (local.get $sc)))\n          ");
}

/**
 * `transpose(source, rows, columns, target, firstRow, lastRow)`: target[c][r] = source[r][c] for the source
 * rows [firstRow, lastRow), both row-major (target is [columns × rows]), pointers in bytes.
 */
export const TRANSPOSE_FUNCTION = `
  (func (export "transpose") (param $src i32) (param $rows i32) (param $columns i32) (param $dst i32)
    (param $first i32) (param $last i32)
    (local $c0 i32) (local $c1 i32) (local $r i32) (local $c i32) (local $from i32) (local $to i32)
    (local $sr i32) (local $sc i32) (local $fourRows i32)
    (local $a v128) (local $b v128) (local $x v128) (local $y v128) (local $t0 v128) (local $t1 v128)
    (local.set $sr (i32.shl (local.get $columns) (i32.const 2)))
    (local.set $sc (i32.shl (local.get $rows) (i32.const 2)))
    ;; Rows that make whole blocks of four; the 1-3 left go one value at a time.
    (local.set $fourRows (i32.add (local.get $first)
      (i32.and (i32.sub (local.get $last) (local.get $first)) (i32.const -4))))
    (block $tiles_done (loop $tiles
      (br_if $tiles_done (i32.ge_u (local.get $c0) (local.get $columns)))
      (local.set $c1 (select (i32.add (local.get $c0) (i32.const ${TILE_COLUMNS})) (local.get $columns)
        (i32.lt_u (i32.add (local.get $c0) (i32.const ${TILE_COLUMNS})) (local.get $columns))))
      (local.set $r (local.get $first))
      (block $blocks_done (loop $block_rows
        (br_if $blocks_done (i32.ge_u (local.get $r) (local.get $fourRows)))
        (local.set $c (local.get $c0))
        (block $fours_done (loop $fours
          (br_if $fours_done (i32.gt_u (i32.add (local.get $c) (i32.const 4)) (local.get $c1)))
          (local.set $from (i32.add (local.get $src)
            (i32.shl (i32.add (i32.mul (local.get $r) (local.get $columns)) (local.get $c)) (i32.const 2))))
          (local.set $a (v128.load align=4 (local.get $from)))
          (local.set $b (v128.load align=4 (i32.add (local.get $from) (local.get $sr))))
          (local.set $from (i32.add (local.get $from) (i32.shl (local.get $sr) (i32.const 1))))
          (local.set $x (v128.load align=4 (local.get $from)))
          (local.set $y (v128.load align=4 (i32.add (local.get $from) (local.get $sr))))
          ;; a0 b0 a1 b1 | a2 b2 a3 b3 and c0 d0 c1 d1 | c2 d2 c3 d3, then their halves paired.
          (local.set $t0 (i8x16.shuffle ${floatLanes([0, 4, 1, 5])} (local.get $a) (local.get $b)))
          (local.set $t1 (i8x16.shuffle ${floatLanes([2, 6, 3, 7])} (local.get $a) (local.get $b)))
          (local.set $a (i8x16.shuffle ${floatLanes([0, 4, 1, 5])} (local.get $x) (local.get $y)))
          (local.set $b (i8x16.shuffle ${floatLanes([2, 6, 3, 7])} (local.get $x) (local.get $y)))
          (local.set $to (i32.add (local.get $dst)
            (i32.shl (i32.add (i32.mul (local.get $c) (local.get $rows)) (local.get $r)) (i32.const 2))))
          ${outputRows()}
          (local.set $c (i32.add (local.get $c) (i32.const 4)))
          (br $fours)))
        ;; The tile's last 1-3 columns of these four rows.
        (block $ones_done (loop $ones
          (br_if $ones_done (i32.ge_u (local.get $c) (local.get $c1)))
          (call $transpose_column (local.get $src) (local.get $rows) (local.get $columns) (local.get $dst)
            (local.get $r) (i32.add (local.get $r) (i32.const 4)) (local.get $c))
          (local.set $c (i32.add (local.get $c) (i32.const 1)))
          (br $ones)))
        (local.set $r (i32.add (local.get $r) (i32.const 4)))
        (br $block_rows)))
      ;; The band's last 1-3 rows, every column of the tile.
      (local.set $c (local.get $c0))
      (block $rest_done (loop $rest
        (br_if $rest_done (i32.ge_u (local.get $c) (local.get $c1)))
        (call $transpose_column (local.get $src) (local.get $rows) (local.get $columns) (local.get $dst)
          (local.get $fourRows) (local.get $last) (local.get $c))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $rest)))
      (local.set $c0 (local.get $c1))
      (br $tiles)))
  )
  (func $transpose_column (param $src i32) (param $rows i32) (param $columns i32) (param $dst i32)
    (param $r i32) (param $end i32) (param $c i32)
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $r) (local.get $end)))
      (f32.store
        (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $c) (local.get $rows)) (local.get $r)) (i32.const 2)))
        (f32.load (i32.add (local.get $src)
          (i32.shl (i32.add (i32.mul (local.get $r) (local.get $columns)) (local.get $c)) (i32.const 2)))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $each)))
  )`;
