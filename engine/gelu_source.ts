/**
 * GELU over rows of a [rows, columns] activation, with the derivative its backward pass needs: the kernel
 * module's WebAssembly SIMD version ({@linkcode BIAS_GELU_FUNCTION}, what the WASM backend runs on the kernel
 * pool) and the same formula in JavaScript ({@linkcode biasGeluRows}, for the cpu backend and as the tests'
 * reference). column_ops.ts drives both.
 *
 * For each row r: u = z + b[r], a = u·Φ(u), d = Φ(u) + u·φ(u); Φ through erf by Abramowitz & Stegun 7.1.26
 * (absolute error below 1.5e-7, the formula of tfjs' cpu and WebGL tf.erf), sharing its exp(−u²/2) with the
 * density φ(u): one exp per value.
 * @module
 */

/** A&S 7.1.26's p, divided by √2 since the argument is u/√2. */
const P_OVER_SQRT2 = 0.3275911 * Math.SQRT1_2;
/** A&S 7.1.26's a1..a5. */
const A = [0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429];
const INV_SQRT_2PI = 0.3989422804014327;

/** The JavaScript version, in float64 until each value is stored: for rows [firstRow, lastRow). */
export function biasGeluRows(
  z: Float32Array,
  bias: Float32Array,
  a: Float32Array,
  d: Float32Array,
  firstRow: number,
  lastRow: number,
  columns: number,
): void {
  for (let r = firstRow; r < lastRow; r++) {
    const b = bias[r];
    for (let i = r * columns, end = i + columns; i < end; i++) {
      const u = z[i] + b;
      const e = Math.exp(-0.5 * u * u);
      const t = 1 / (1 + P_OVER_SQRT2 * Math.abs(u));
      const poly = ((((A[4] * t + A[3]) * t + A[2]) * t + A[1]) * t + A[0]) * t;
      const half = 0.5 * (1 - poly * e); // erf(|u|/√2) / 2
      const cdf = u >= 0 ? 0.5 + half : 0.5 - half;
      a[i] = u * cdf;
      d[i] = cdf + u * INV_SQRT_2PI * e;
    }
  }
}

/**
 * The kernel's WAT: `bias_gelu(z, bias, a, d, rows, columns, firstRow, lastRow)` over rows [firstRow, lastRow),
 * pointers in bytes; four values at a time, the 1-3 left at the end of a row one at a time (loads and stores
 * touch only the row's own values). Vector constants are locals set once per call: V8 builds a v128.const
 * afresh at each use, which made the kernel 25-30% slower.
 */
export const BIAS_GELU_FUNCTION = biasGeluFunction();

function biasGeluFunction(): string {
  const constants = new Map<number, string>();
  const splat = (c: number) => {
    if (!constants.has(c)) constants.set(c, `$k${constants.size}`);
    return `(local.get ${constants.get(c)})`;
  };
  /** Horner's rule over `coefficients` (highest power first) at the vector in local `x`. */
  const horner = (x: string, coefficients: number[]) =>
    coefficients.slice(1).reduce(
      (acc, c) => `(f32x4.add (f32x4.mul ${acc} (local.get ${x})) ${splat(c)})`,
      splat(coefficients[0]),
    );
  // e = exp(x) for x ≤ 0 (clamped at −87, where it is ~1.6e-38 and 2ⁿ is still a normal float), as Cephes'
  // expf: x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two so n·ln2 is exact), e^r by its polynomial, 2ⁿ built
  // in the exponent bits. Relative error ~1e-7. Two x86-friendly spellings of the same values: pmax (one
  // instruction; max's NaN and ±0 rules cost seven, and x is never NaN unless u is), and n + 127 put in the low
  // bits of 1.5·2²³'s mantissa by a float add (exact for n in [−126, 0]) instead of a saturating conversion (six
  // instructions): the shift by 23 then leaves just n + 127 in the exponent field.
  const expOfX = `
        (local.set $x (f32x4.pmax (local.get $x) ${splat(-87)}))
        (local.set $n (f32x4.nearest (f32x4.mul (local.get $x) ${splat(Math.LOG2E)})))
        (local.set $r (f32x4.sub (f32x4.sub (local.get $x) (f32x4.mul (local.get $n) ${splat(0.693359375)}))
          (f32x4.mul (local.get $n) ${splat(-2.12194440e-4)})))
        (local.set $e (f32x4.mul
          (f32x4.add (f32x4.add (f32x4.mul ${
    horner("$r", [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1])
  } (f32x4.mul (local.get $r) (local.get $r))) (local.get $r)) ${splat(1)})
          (i32x4.shl (f32x4.add (local.get $n) ${splat(12582912 + 127)}) (i32.const 23))))`;
  /** GELU of the vector at byte $at of z into a and d: four values, or (`four` false) the first lane only. */
  const geluAt = (four: boolean) => {
    const load = four ? "v128.load" : "v128.load32_zero";
    const store = (to: string, value: string) =>
      four
        ? `(v128.store align=4 (i32.add (local.get ${to}) (local.get $at)) ${value})`
        : `(v128.store32_lane align=4 0 (i32.add (local.get ${to}) (local.get $at)) ${value})`;
    return `
        (local.set $u (f32x4.add (local.get $b) (${load} align=4 (i32.add (local.get $z) (local.get $at)))))
        (local.set $x (f32x4.mul (f32x4.mul (local.get $u) (local.get $u)) ${splat(-0.5)}))${expOfX}
        (local.set $t (f32x4.div ${splat(1)} (f32x4.add ${splat(1)} (f32x4.mul ${splat(P_OVER_SQRT2)}
          (f32x4.abs (local.get $u))))))
        ;; half = erf(|u|/√2) / 2
        (local.set $half (f32x4.mul ${splat(0.5)} (f32x4.sub ${splat(1)} (f32x4.mul (f32x4.mul ${
      horner("$t", [...A].reverse())
    } (local.get $t)) (local.get $e)))))
        (local.set $cdf (v128.bitselect (f32x4.add ${splat(0.5)} (local.get $half))
          (f32x4.sub ${splat(0.5)} (local.get $half)) (f32x4.ge (local.get $u) ${splat(0)})))
        ${store("$a", "(f32x4.mul (local.get $u) (local.get $cdf))")}
        ${
      store(
        "$d",
        `(f32x4.add (local.get $cdf) (f32x4.mul (f32x4.mul (local.get $u) ${splat(INV_SQRT_2PI)}) (local.get $e)))`,
      )
    }`;
  };
  const rows = `
    (local.set $row (local.get $first))
    (block $rows_done (loop $rows
      (br_if $rows_done (i32.ge_u (local.get $row) (local.get $last)))
      (local.set $b (f32x4.splat (f32.load (i32.add (local.get $bias) (i32.shl (local.get $row) (i32.const 2))))))
      (local.set $at (i32.shl (i32.mul (local.get $row) (local.get $columns)) (i32.const 2)))
      (local.set $end (i32.add (local.get $at) (i32.shl (local.get $columns) (i32.const 2))))
      (block $fours_done (loop $fours
        (br_if $fours_done (i32.gt_u (i32.add (local.get $at) (i32.const 16)) (local.get $end)))${geluAt(true)}
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $fours)))
      (block $ones_done (loop $ones
        (br_if $ones_done (i32.ge_u (local.get $at) (local.get $end)))${geluAt(false)}
        (local.set $at (i32.add (local.get $at) (i32.const 4)))
        (br $ones)))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br $rows)))`;
  const constantLocals = [...constants.values()].map((name) => `(local ${name} v128)`).join(" ");
  const constantValues = [...constants].map(([c, name]) =>
    `(local.set ${name} (v128.const f32x4 ${c} ${c} ${c} ${c}))`
  );
  return `
  (func (export "bias_gelu") (param $z i32) (param $bias i32) (param $a i32) (param $d i32) (param $rows i32)
    (param $columns i32) (param $first i32) (param $last i32)
    (local $row i32) (local $at i32) (local $end i32) (local $b v128)
    (local $u v128) (local $x v128) (local $n v128) (local $r v128) (local $e v128) (local $t v128)
    (local $half v128) (local $cdf v128) ${constantLocals}
    ${constantValues.join("\n    ")}${rows}
  )`;
}
