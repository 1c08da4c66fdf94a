/**
 * The WebAssembly text (WAT) of INTER_AREA shrinking for R, G, B records (area_resize.ts compiles it): the
 * same float32 sums, in the same order, as OpenCV's ResizeArea_Invoker and the JavaScript in
 * opencv_resize.ts, with one pixel's three channels in the lanes of one SIMD register. f32 arithmetic rounds
 * every product and sum exactly as those do, so the records are bit for bit the same; it is about five times
 * faster than the JavaScript (which V8 runs in float64, rounding after every operation).
 *
 * Memory layout (byte offsets, all set by the caller): the source pixels (RGB, followed by at least one
 * spare byte: each pixel is read as four bytes), the two axes' term tables as opencv_resize.ts builds them,
 * two float rows of `4 · ceil(3 · size / 4) + 4` bytes, and the output, one float per value plus four spare.
 * @module
 */

/** The kernel module's text. */
export const AREA_RESIZE_MODULE = `(module
  (memory (export "memory") 1)

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

  ;; emit(sum, out, groups): saturate_cast<uchar> of each sum (round half to even, clamp to 0..255), as floats.
  (func $emit (param $sum i32) (param $out i32) (param $groups i32)
    (local $g i32)
    (loop $each
      (v128.store align=4 (local.get $out)
        (f32x4.min (f32x4.splat (f32.const 255))
          (f32x4.max (f32x4.splat (f32.const 0)) (f32x4.nearest (v128.load align=4 (local.get $sum))))))
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

  ;; area3(pixels, width, xSource, xWeight, xFirst, size, yTarget, ySource, yWeight, yCount, row, sum, out):
  ;; the whole record: each vertical term adds beta times its source row's horizontal pass to its output
  ;; row's sums; an output row is emitted when the terms move on to the next one.
  (func (export "area3") (param $pixels i32) (param $width i32) (param $xSource i32) (param $xWeight i32)
    (param $xFirst i32) (param $size i32) (param $yTarget i32) (param $ySource i32) (param $yWeight i32)
    (param $yCount i32) (param $row i32) (param $sum i32) (param $out i32)
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
                (local.get $groups))))
          (call $scaleInto (local.get $sum) (local.get $row) (local.get $beta) (local.get $groups) (i32.const 0))
          (local.set $previousY (local.get $y)))
        (else
          (call $scaleInto (local.get $sum) (local.get $row) (local.get $beta) (local.get $groups) (i32.const 1))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br_if $terms (i32.lt_u (local.get $j) (local.get $yCount))))
    (call $emit (local.get $sum) (i32.add (local.get $out) (i32.mul (local.get $previousY) (local.get $rowBytes)))
      (local.get $groups)))
)
`;
