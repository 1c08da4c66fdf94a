/**
 * The WebAssembly text (WAT) of the record kernels resize_kernels.ts compiles: OpenCV's INTER_AREA shrinking
 * of R, G, B pixels, its INTER_LINEAR resize to gray (of a gray plane, or of the luma of R, G, B pixels, taken
 * only where the resize reads), and the plain scaling of 8-bit values. Each repeats the arithmetic of
 * opencv_resize.ts operation for operation, so records are bit for bit the same:
 *
 * - area sums in f32, in OpenCV's term order, one pixel's three channels in the lanes of one register (f32
 *   rounds every product and sum as the JavaScript's Math.fround does);
 * - linear in OpenCV's fixed point (11-bit weights, the vertical pass's (hi16((r0 >> 4) · b0) + hi16((r1 >>
 *   4) · b1) + 2) >> 2), four outputs at a time;
 * - a value v becomes the float32 nearest v · gain computed in float64, as a Float32Array store of the
 *   JavaScript's product does.
 *
 * The caller lays out memory (byte offsets): every buffer a kernel writes four lanes at a time has room for
 * four values more than it holds, and every pixel buffer one spare byte (a pixel is read as four bytes).
 * @module
 */

/** `store4scaled(out, v, gain)`: four integer values as the float32 nearest each value times `gain` (float64). */
const STORE_SCALED = `
  (func $store4scaled (param $out i32) (param $v v128) (param $gain f64)
    (local $g v128)
    (local.set $g (f64x2.splat (local.get $gain)))
    (v128.store align=4 (local.get $out)
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
        (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.convert_low_i32x4_s (local.get $v)) (local.get $g)))
        (f32x4.demote_f64x2_zero (f64x2.mul
          (f64x2.convert_low_i32x4_s (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v)))
          (local.get $g))))))`;

/** `scaleBytes(pixels, count, gain, out)`: out[i] = pixels[i] · gain for i < count, rounded up to four values. */
const SCALE_BYTES = `
  (func (export "scaleBytes") (param $pixels i32) (param $count i32) (param $gain f64) (param $out i32)
    (local $i i32)
    (block $done
      (loop $each
        (br_if $done (i32.ge_s (local.get $i) (local.get $count)))
        (call $store4scaled (local.get $out)
          (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (v128.load32_zero align=1 (local.get $pixels))))
          (local.get $gain))
        (local.set $pixels (i32.add (local.get $pixels) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $each))))`;

/** INTER_AREA shrinking of R, G, B pixels: `area3` and its passes. */
const AREA = `
  ;; row3(pixels, xSource, xWeight, xFirst, size, row): the horizontal pass over one source row: output pixel d
  ;; is the sum, in term order, of pixel xSource[k] times xWeight[k] for k in [xFirst[d], xFirst[d + 1]).
  ;; Each output pixel's four lanes are stored 12 bytes apart, so its fourth lane is overwritten by the next.
  (func $row3 (param $pixels i32) (param $xSource i32) (param $xWeight i32) (param $xFirst i32) (param $size i32)
    (param $row i32)
    (local $d i32) (local $k i32) (local $end i32) (local $sum v128) (local $pixel i32)
    (local.set $k (i32.load (local.get $xFirst)))
    (loop $outputs
      (local.set $end (i32.load offset=4 (i32.add (local.get $xFirst) (i32.shl (local.get $d) (i32.const 2)))))
      (local.set $sum (v128.const i32x4 0 0 0 0))
      (block $done
        (loop $terms
          (br_if $done (i32.ge_u (local.get $k) (local.get $end)))
          (local.set $pixel (i32.add (local.get $pixels)
            (i32.mul (i32.load (i32.add (local.get $xSource) (i32.shl (local.get $k) (i32.const 2)))) (i32.const 3))))
          (local.set $sum (f32x4.add (local.get $sum)
            (f32x4.mul
              (f32x4.convert_i32x4_u (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u
                (v128.load32_zero align=1 (local.get $pixel)))))
              (f32x4.splat (f32.load (i32.add (local.get $xWeight) (i32.shl (local.get $k) (i32.const 2))))))))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $terms)))
      (v128.store align=4 (i32.add (local.get $row) (i32.mul (local.get $d) (i32.const 12))) (local.get $sum))
      (local.set $d (i32.add (local.get $d) (i32.const 1)))
      (br_if $outputs (i32.lt_u (local.get $d) (local.get $size)))))

  ;; emit(sum, out, groups, gain): saturate_cast<uchar> of each sum (round half to even, clamp to 0..255), scaled.
  (func $emit (param $sum i32) (param $out i32) (param $groups i32) (param $gain f64)
    (local $g i32)
    (loop $each
      (call $store4scaled (local.get $out)
        (i32x4.trunc_sat_f32x4_s (f32x4.min (f32x4.splat (f32.const 255))
          (f32x4.max (f32x4.splat (f32.const 0)) (f32x4.nearest (v128.load align=4 (local.get $sum))))))
        (local.get $gain))
      (local.set $sum (i32.add (local.get $sum) (i32.const 16)))
      (local.set $out (i32.add (local.get $out) (i32.const 16)))
      (local.set $g (i32.add (local.get $g) (i32.const 1)))
      (br_if $each (i32.lt_u (local.get $g) (local.get $groups)))))

  ;; scaleInto(sum, row, beta, groups, add): sum = beta · row, or sum += beta · row.
  (func $scaleInto (param $sum i32) (param $row i32) (param $beta f32) (param $groups i32) (param $add i32)
    (local $g i32) (local $b v128) (local $term v128)
    (local.set $b (f32x4.splat (local.get $beta)))
    (loop $each
      (local.set $term (f32x4.mul (local.get $b) (v128.load align=4 (local.get $row))))
      (v128.store align=4 (local.get $sum)
        (if (result v128) (local.get $add)
          (then (f32x4.add (v128.load align=4 (local.get $sum)) (local.get $term)))
          (else (local.get $term))))
      (local.set $sum (i32.add (local.get $sum) (i32.const 16)))
      (local.set $row (i32.add (local.get $row) (i32.const 16)))
      (local.set $g (i32.add (local.get $g) (i32.const 1)))
      (br_if $each (i32.lt_u (local.get $g) (local.get $groups)))))

  ;; area3(pixels, width, xSource, xWeight, xFirst, size, yTarget, ySource, yWeight, yCount, row, sum, out, gain):
  ;; the whole record: each vertical term adds beta times its source row's horizontal pass to its output
  ;; row's sums; an output row is emitted when the terms move on to the next one.
  (func (export "area3") (param $pixels i32) (param $width i32) (param $xSource i32) (param $xWeight i32)
    (param $xFirst i32) (param $size i32) (param $yTarget i32) (param $ySource i32) (param $yWeight i32)
    (param $yCount i32) (param $row i32) (param $sum i32) (param $out i32) (param $gain f64)
    (local $j i32) (local $y i32) (local $sy i32) (local $previousY i32) (local $rowSource i32) (local $groups i32)
    (local $rowBytes i32) (local $beta f32)
    (local.set $rowBytes (i32.mul (local.get $size) (i32.const 12)))
    (local.set $groups (i32.shr_u (i32.add (i32.mul (local.get $size) (i32.const 3)) (i32.const 3)) (i32.const 2)))
    ;; No output row yet: the first term sets its row's sums (OpenCV adds it to zeros, which is the same).
    (local.set $previousY (i32.const -1))
    (local.set $rowSource (i32.const -1))
    (loop $terms
      (local.set $y (i32.load (i32.add (local.get $yTarget) (i32.shl (local.get $j) (i32.const 2)))))
      (local.set $sy (i32.load (i32.add (local.get $ySource) (i32.shl (local.get $j) (i32.const 2)))))
      (local.set $beta (f32.load (i32.add (local.get $yWeight) (i32.shl (local.get $j) (i32.const 2)))))
      ;; A source row on a cell boundary serves two output rows: its pass is the same both times.
      (if (i32.ne (local.get $sy) (local.get $rowSource))
        (then
          (call $row3 (i32.add (local.get $pixels) (i32.mul (local.get $sy) (i32.mul (local.get $width) (i32.const 3))))
            (local.get $xSource) (local.get $xWeight) (local.get $xFirst) (local.get $size) (local.get $row))
          (local.set $rowSource (local.get $sy))))
      (if (i32.ne (local.get $y) (local.get $previousY))
        (then
          (if (i32.ge_s (local.get $previousY) (i32.const 0))
            (then
              (call $emit (local.get $sum) (i32.add (local.get $out) (i32.mul (local.get $previousY) (local.get $rowBytes)))
                (local.get $groups) (local.get $gain))))
          (call $scaleInto (local.get $sum) (local.get $row) (local.get $beta) (local.get $groups) (i32.const 0))
          (local.set $previousY (local.get $y)))
        (else
          (call $scaleInto (local.get $sum) (local.get $row) (local.get $beta) (local.get $groups) (i32.const 1))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br_if $terms (i32.lt_u (local.get $j) (local.get $yCount))))
    (call $emit (local.get $sum) (i32.add (local.get $out) (i32.mul (local.get $previousY) (local.get $rowBytes)))
      (local.get $groups) (local.get $gain)))`;

/** OpenCV 4's fixed-point luma of the R, G, B bytes at the address in local `pointer`: (9798 R + 19235 G + 3735 B + 16384) >> 15. */
function luma(pointer: string): string {
  const term = (offset: number, weight: number) =>
    `(i32.mul (i32.load8_u offset=${offset} (local.get ${pointer})) (i32.const ${weight}))`;
  return `(i32.shr_u (i32.add (i32.add ${term(0, 9798)} ${term(1, 19235)}) (i32.add ${
    term(2, 3735)
  } (i32.const 16384))) (i32.const 15))`;
}

/** WAT: unless local `held` says buffer `into` already holds source row `row`'s horizontal pass, compute it there. */
function horizontalPassUnlessHeld(row: string, held: string, into: string): string {
  return `(if (i32.ne (local.get ${row}) (local.get ${held}))
        (then
          (call $horizontal (i32.add (local.get $pixels) (i32.mul (local.get ${row}) (local.get $rowBytes)))
            (local.get $luma) (local.get $xOffset) (local.get $xNext) (local.get $xW0) (local.get $xW1)
            (local.get $size) (local.get ${into}))
          (local.set ${held} (local.get ${row}))))`;
}

/** INTER_LINEAR to gray: `linearGray` and its passes. */
const LINEAR_GRAY = `
  ;; horizontal(row, luma, xOffset, xNext, xW0, xW1, size, into): into[x] = s(offset[x]) · w0[x] + s(next[x]) ·
  ;; w1[x], s a source pixel of the row: a gray byte, or with \`luma\` the luma of its R, G, B; the two loops are
  ;; written out so that neither tests per pixel.
  (func $horizontal (param $row i32) (param $luma i32) (param $xOffset i32) (param $xNext i32) (param $xW0 i32)
    (param $xW1 i32) (param $size i32) (param $into i32)
    (local $end i32) (local $p i32) (local $q i32)
    (local.set $end (i32.add (local.get $into) (i32.shl (local.get $size) (i32.const 2))))
    (if (i32.eqz (local.get $luma))
      (then
        (loop $gray
          (i32.store (local.get $into)
            (i32.add
              (i32.mul (i32.load8_u (i32.add (local.get $row) (i32.load (local.get $xOffset))))
                (i32.load (local.get $xW0)))
              (i32.mul (i32.load8_u (i32.add (local.get $row) (i32.load (local.get $xNext))))
                (i32.load (local.get $xW1)))))
          (local.set $xOffset (i32.add (local.get $xOffset) (i32.const 4)))
          (local.set $xNext (i32.add (local.get $xNext) (i32.const 4)))
          (local.set $xW0 (i32.add (local.get $xW0) (i32.const 4)))
          (local.set $xW1 (i32.add (local.get $xW1) (i32.const 4)))
          (local.set $into (i32.add (local.get $into) (i32.const 4)))
          (br_if $gray (i32.lt_u (local.get $into) (local.get $end)))))
      (else
        (loop $colour
          (local.set $p (i32.add (local.get $row) (i32.mul (i32.load (local.get $xOffset)) (i32.const 3))))
          (local.set $q (i32.add (local.get $row) (i32.mul (i32.load (local.get $xNext)) (i32.const 3))))
          (i32.store (local.get $into)
            (i32.add
              (i32.mul ${luma("$p")} (i32.load (local.get $xW0)))
              (i32.mul ${luma("$q")} (i32.load (local.get $xW1)))))
          (local.set $xOffset (i32.add (local.get $xOffset) (i32.const 4)))
          (local.set $xNext (i32.add (local.get $xNext) (i32.const 4)))
          (local.set $xW0 (i32.add (local.get $xW0) (i32.const 4)))
          (local.set $xW1 (i32.add (local.get $xW1) (i32.const 4)))
          (local.set $into (i32.add (local.get $into) (i32.const 4)))
          (br_if $colour (i32.lt_u (local.get $into) (local.get $end)))))))

  ;; linearGray(pixels, luma, width, xOffset, xNext, xW0, xW1, size, yOffset, yNext, yW0, yW1, below,
  ;; above, out, gain): each output row from the horizontal passes of its two source rows (each pass computed
  ;; once: the row above becomes the next row's row below), then the vertical pass four outputs at a time.
  (func (export "linearGray") (param $pixels i32) (param $luma i32) (param $width i32)
    (param $xOffset i32)
    (param $xNext i32) (param $xW0 i32) (param $xW1 i32) (param $size i32) (param $yOffset i32) (param $yNext i32)
    (param $yW0 i32) (param $yW1 i32) (param $below i32) (param $above i32) (param $out i32) (param $gain f64)
    (local $y i32) (local $y0 i32) (local $y1 i32) (local $belowY i32) (local $aboveY i32) (local $swap i32)
    (local $rowBytes i32) (local $x i32) (local $b0 v128) (local $b1 v128) (local $v v128) (local $to i32)
    (local.set $belowY (i32.const -1))
    (local.set $aboveY (i32.const -1))
    ;; A gray plane has a byte per pixel, R, G, B three.
    (local.set $rowBytes (select (i32.mul (local.get $width) (i32.const 3)) (local.get $width) (local.get $luma)))
    (loop $rows
      (local.set $y0 (i32.load (i32.add (local.get $yOffset) (i32.shl (local.get $y) (i32.const 2)))))
      (local.set $y1 (i32.load (i32.add (local.get $yNext) (i32.shl (local.get $y) (i32.const 2)))))
      (if (i32.and (i32.eq (local.get $y0) (local.get $aboveY)) (i32.ne (local.get $y0) (local.get $belowY)))
        (then
          (local.set $swap (local.get $below)) (local.set $below (local.get $above)) (local.set $above (local.get $swap))
          (local.set $swap (local.get $belowY)) (local.set $belowY (local.get $aboveY))
          (local.set $aboveY (local.get $swap))))
      ${horizontalPassUnlessHeld("$y0", "$belowY", "$below")}
      ${horizontalPassUnlessHeld("$y1", "$aboveY", "$above")}
      (local.set $b0 (i32x4.splat (i32.load (i32.add (local.get $yW0) (i32.shl (local.get $y) (i32.const 2))))))
      (local.set $b1 (i32x4.splat (i32.load (i32.add (local.get $yW1) (i32.shl (local.get $y) (i32.const 2))))))
      (local.set $to (i32.add (local.get $out) (i32.shl (i32.mul (local.get $y) (local.get $size)) (i32.const 2))))
      (local.set $x (i32.const 0))
      (loop $columns
        ;; ((((below >> 4) · b0) >> 16) + (((above >> 4) · b1) >> 16) + 2) >> 2, clamped to 0..255
        (local.set $v (i32x4.shr_s
          (i32x4.add
            (i32x4.add
              (i32x4.shr_s (i32x4.mul (i32x4.shr_s (v128.load align=4 (i32.add (local.get $below) (local.get $x)))
                (i32.const 4)) (local.get $b0)) (i32.const 16))
              (i32x4.shr_s (i32x4.mul (i32x4.shr_s (v128.load align=4 (i32.add (local.get $above) (local.get $x)))
                (i32.const 4)) (local.get $b1)) (i32.const 16)))
            (i32x4.splat (i32.const 2)))
          (i32.const 2)))
        (local.set $v (i32x4.min_s (i32x4.max_s (local.get $v) (i32x4.splat (i32.const 0))) (i32x4.splat (i32.const 255))))
        (call $store4scaled (i32.add (local.get $to) (local.get $x)) (local.get $v) (local.get $gain))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (br_if $columns (i32.lt_u (local.get $x) (i32.shl (local.get $size) (i32.const 2)))))
      (local.set $y (i32.add (local.get $y) (i32.const 1)))
      (br_if $rows (i32.lt_u (local.get $y) (local.get $size)))))`;

/** The kernel module's text. */
export const RESIZE_KERNELS_MODULE = `(module
  (memory (export "memory") 1)
${STORE_SCALED}
${SCALE_BYTES}
${AREA}
${LINEAR_GRAY}
)
`;
