/**
 * The WAT of column_ops.ts's passes that run in the kernel module: LayerNorm over the columns of a [features,
 * batch] activation and its backward pass, sums along rows (a bias's gradient, LayerNorm's dγ and dβ), and a
 * product element by element with its rows' sums (the GELU's backward pass and its bias gradient). column_ops.ts
 * drives them on the kernel pool (and keeps the same loops in JavaScript for the cpu backend).
 *
 * They compute what column_ops.ts's JavaScript computes, in the same order and precision: each column's sums in
 * float64, row after row; x̂ and y in float64 from the float32 inputs and the stored float32 1/σ, rounded once when
 * stored. Four columns at a time (two float64 pairs), and a last group of 1-3 columns loaded with zeros in the
 * unused lanes, which are never stored. Activations are rows of the batch, so a column's values are a row apart.
 * @module
 */

/** Loads the four floats at `address` (or only the first, `four` false) as a v128. */
const load = (four: boolean, address: string) =>
  four ? `(v128.load align=4 ${address})` : `(v128.load32_zero align=4 ${address})`;
/** Stores a v128 of four floats at `address` (or only its first, `four` false). */
const store = (four: boolean, address: string, value: string) =>
  four ? `(v128.store align=4 ${address} ${value})` : `(v128.store32_lane align=4 0 ${address} ${value})`;
/** The low and high pairs of a vector of four floats as float64x2. */
const low = (v: string) => `(f64x2.promote_low_f32x4 ${v})`;
const high = (v: string) =>
  `(f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 ${v} ${v}))`;
/** Two float64x2 rounded into one vector of four floats. */
const demote = (lo: string, hi: string) =>
  `(i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (f32x4.demote_f64x2_zero ${lo}) (f32x4.demote_f64x2_zero ${hi}))`;
/** The float at `address` as a float64x2 of two copies. */
const splat64 = (address: string) => `(f64x2.splat (f64.promote_f32 (f32.load ${address})))`;

/** A loop over the rows: $p walks down one column group of `pointer` (and $q of `second`), $row counts. */
const overRows = (body: string, pointer: string, second?: string) => `
        (local.set $p (i32.add (local.get ${pointer}) (local.get $col)))${
  second ? `\n        (local.set $q (i32.add (local.get ${second}) (local.get $col)))` : ""
}
        (local.set $row (i32.const 0))
        (block $rows_done (loop $rows
          (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))${body}
          (local.set $p (i32.add (local.get $p) (local.get $stride)))${
  second ? "\n          (local.set $q (i32.add (local.get $q) (local.get $stride)))" : ""
}
          (local.set $row (i32.add (local.get $row) (i32.const 1)))
          (br $rows)))`;

/** Runs `group(four)` for each group of columns [c0, c1): fours, then one group of the 1-3 left. */
const overColumnGroups = (group: (four: boolean) => string) => `
    (local.set $stride (i32.shl (local.get $columns) (i32.const 2)))
    (local.set $n (f64x2.splat (f64.convert_i32_u (local.get $rows))))
    (local.set $col (i32.shl (local.get $c0) (i32.const 2)))
    (local.set $end (i32.shl (local.get $c1) (i32.const 2)))
    (block $fours_done (loop $fours
      (br_if $fours_done (i32.gt_u (i32.add (local.get $col) (i32.const 16)) (local.get $end)))${group(true)}
      (local.set $col (i32.add (local.get $col) (i32.const 16)))
      (br $fours)))
    (block $ones_done (loop $ones
      (br_if $ones_done (i32.ge_u (local.get $col) (local.get $end)))${group(false)}
      (local.set $col (i32.add (local.get $col) (i32.const 4)))
      (br $ones)))`;

const COLUMN_LOCALS =
  `(local $col i32) (local $end i32) (local $row i32) (local $stride i32) (local $p i32) (local $q i32)
    (local $v v128) (local $n v128) (local $a0 v128) (local $a1 v128) (local $b0 v128) (local $b1 v128)
    (local $x0 v128) (local $x1 v128) (local $g v128) (local $i0 v128) (local $i1 v128)`;

/**
 * `layer_norm(h, gamma, beta, y, xhat, inv, rows, columns, c0, c1, epsilon)`: columns [c0, c1) of h [rows,
 * columns] normalised: inv[c] = 1/√(var + ε) (float32), x̂ = (h − mean)·inv, y = γ·x̂ + β; pointers in bytes.
 */
function layerNormFunction(): string {
  const group = (four: boolean) => {
    const value = load(four, "(local.get $p)");
    return `${
      overRows(
        `
          (local.set $v ${value})
          (local.set $a0 (f64x2.add (local.get $a0) ${low("(local.get $v)")}))
          (local.set $a1 (f64x2.add (local.get $a1) ${high("(local.get $v)")}))`,
        "$h",
      )
    }
        (local.set $a0 (f64x2.div (local.get $a0) (local.get $n)))
        (local.set $a1 (f64x2.div (local.get $a1) (local.get $n)))${
      overRows(
        `
          (local.set $v ${value})
          (local.set $x0 (f64x2.sub ${low("(local.get $v)")} (local.get $a0)))
          (local.set $x1 (f64x2.sub ${high("(local.get $v)")} (local.get $a1)))
          (local.set $b0 (f64x2.add (local.get $b0) (f64x2.mul (local.get $x0) (local.get $x0))))
          (local.set $b1 (f64x2.add (local.get $b1) (f64x2.mul (local.get $x1) (local.get $x1))))`,
        "$h",
      )
    }
        ;; 1/σ rounded to float32 as it is stored, then used as stored.
        (local.set $v ${
      demote(
        "(f64x2.div (f64x2.splat (f64.const 1)) (f64x2.sqrt (f64x2.add (f64x2.div (local.get $b0) (local.get $n)) (local.get $eps))))",
        "(f64x2.div (f64x2.splat (f64.const 1)) (f64x2.sqrt (f64x2.add (f64x2.div (local.get $b1) (local.get $n)) (local.get $eps))))",
      )
    })
        ${store(four, "(i32.add (local.get $inv) (local.get $col))", "(local.get $v)")}
        (local.set $i0 ${low("(local.get $v)")})
        (local.set $i1 ${high("(local.get $v)")})${
      overRows(
        `
          (local.set $v ${value})
          (local.set $x0 (f64x2.mul (f64x2.sub ${low("(local.get $v)")} (local.get $a0)) (local.get $i0)))
          (local.set $x1 (f64x2.mul (f64x2.sub ${high("(local.get $v)")} (local.get $a1)) (local.get $i1)))
          ${store(four, "(local.get $q)", demote("(local.get $x0)", "(local.get $x1)"))}
          (local.set $g ${splat64("(i32.add (local.get $gamma) (i32.shl (local.get $row) (i32.const 2)))")})
          (local.set $v ${splat64("(i32.add (local.get $beta) (i32.shl (local.get $row) (i32.const 2)))")})
          ${
          store(
            four,
            "(i32.sub (i32.add (local.get $y) (local.get $q)) (local.get $xhat))",
            demote(
              "(f64x2.add (f64x2.mul (local.get $g) (local.get $x0)) (local.get $v))",
              "(f64x2.add (f64x2.mul (local.get $g) (local.get $x1)) (local.get $v))",
            ),
          )
        }`,
        "$h",
        "$xhat",
      )
    }
        (local.set $a0 (f64x2.splat (f64.const 0))) (local.set $a1 (f64x2.splat (f64.const 0)))
        (local.set $b0 (f64x2.splat (f64.const 0))) (local.set $b1 (f64x2.splat (f64.const 0)))`;
  };
  return `
  (func (export "layer_norm") (param $h i32) (param $gamma i32) (param $beta i32) (param $y i32) (param $xhat i32)
    (param $inv i32) (param $rows i32) (param $columns i32) (param $c0 i32) (param $c1 i32) (param $epsilon f64)
    ${COLUMN_LOCALS} (local $eps v128)
    (local.set $eps (f64x2.splat (local.get $epsilon)))${overColumnGroups(group)}
  )`;
}

/**
 * `layer_norm_back_columns(dy, xhat, inv, gamma, dh, rows, columns, c0, c1, residual)`: for columns [c0, c1),
 * dh = inv·(γ·dy − mean(γ·dy) − x̂·mean(γ·dy·x̂)), the means over each column, plus (float32) the gradient
 * arriving along the residual stream when `residual` is not 0.
 */
function backwardColumnsFunction(): string {
  const group = (four: boolean) => {
    const dy = load(four, "(local.get $p)"), xhat = load(four, "(local.get $q)");
    const gamma = splat64("(i32.add (local.get $gamma) (i32.shl (local.get $row) (i32.const 2)))");
    return `${
      overRows(
        `
          (local.set $v ${dy})
          (local.set $g ${gamma})
          (local.set $x0 (f64x2.mul (local.get $g) ${low("(local.get $v)")}))
          (local.set $x1 (f64x2.mul (local.get $g) ${high("(local.get $v)")}))
          (local.set $a0 (f64x2.add (local.get $a0) (local.get $x0)))
          (local.set $a1 (f64x2.add (local.get $a1) (local.get $x1)))
          (local.set $v ${xhat})
          (local.set $b0 (f64x2.add (local.get $b0) (f64x2.mul (local.get $x0) ${low("(local.get $v)")})))
          (local.set $b1 (f64x2.add (local.get $b1) (f64x2.mul (local.get $x1) ${high("(local.get $v)")})))`,
        "$dy",
        "$xhat",
      )
    }
        (local.set $a0 (f64x2.div (local.get $a0) (local.get $n)))
        (local.set $a1 (f64x2.div (local.get $a1) (local.get $n)))
        (local.set $b0 (f64x2.div (local.get $b0) (local.get $n)))
        (local.set $b1 (f64x2.div (local.get $b1) (local.get $n)))
        (local.set $v ${load(four, "(i32.add (local.get $inv) (local.get $col))")})
        (local.set $i0 ${low("(local.get $v)")})
        (local.set $i1 ${high("(local.get $v)")})${
      overRows(
        `
          (local.set $g ${gamma})
          (local.set $v ${dy})
          (local.set $x0 (f64x2.sub (f64x2.mul (local.get $g) ${low("(local.get $v)")}) (local.get $a0)))
          (local.set $x1 (f64x2.sub (f64x2.mul (local.get $g) ${high("(local.get $v)")}) (local.get $a1)))
          (local.set $v ${xhat})
          (local.set $w ${
          demote(
            `(f64x2.mul (local.get $i0) (f64x2.sub (local.get $x0) (f64x2.mul ${
              low("(local.get $v)")
            } (local.get $b0))))`,
            `(f64x2.mul (local.get $i1) (f64x2.sub (local.get $x1) (f64x2.mul ${
              high("(local.get $v)")
            } (local.get $b1))))`,
          )
        })
          (if (local.get $residual) (then (local.set $w (f32x4.add
            ${
          load(four, "(i32.sub (i32.add (local.get $residual) (local.get $q)) (local.get $xhat))")
        } (local.get $w)))))
          ${store(four, "(i32.sub (i32.add (local.get $dh) (local.get $q)) (local.get $xhat))", "(local.get $w)")}`,
        "$dy",
        "$xhat",
      )
    }
        (local.set $a0 (f64x2.splat (f64.const 0))) (local.set $a1 (f64x2.splat (f64.const 0)))
        (local.set $b0 (f64x2.splat (f64.const 0))) (local.set $b1 (f64x2.splat (f64.const 0)))`;
  };
  return `
  (func (export "layer_norm_back_columns") (param $dy i32) (param $xhat i32) (param $inv i32) (param $gamma i32)
    (param $dh i32) (param $rows i32) (param $columns i32) (param $c0 i32) (param $c1 i32) (param $residual i32)
    ${COLUMN_LOCALS} (local $w v128)${overColumnGroups(group)}
  )`;
}

/**
 * The loop over rows [$first, $last) of x [rows, columns] that both row kernels share: per row, `start`, then
 * `lanes(four)` at each group of four values ($p pointing at it) and at each of the 1-3 left, then `finish`.
 */
const overRowsOfX = (start: string, lanes: (four: boolean) => string, finish: string) => `
    (local.set $row (local.get $first))
    (block $rows_done (loop $rows
      (br_if $rows_done (i32.ge_u (local.get $row) (local.get $last)))
      (local.set $p (i32.add (local.get $x) (i32.shl (i32.mul (local.get $row) (local.get $columns)) (i32.const 2))))
      (local.set $end (i32.add (local.get $p) (i32.shl (local.get $columns) (i32.const 2))))
      ${start}
      (block $fours_done (loop $fours
        (br_if $fours_done (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $end)))${lanes(true)}
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $fours)))
      (block $ones_done (loop $ones
        (br_if $ones_done (i32.ge_u (local.get $p) (local.get $end)))${lanes(false)}
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $ones)))
      ${finish}
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br $rows)))`;

/** The float64 sums in $a0 and $a1 (and $b0, $b1 when `both`) set to zero. */
const zeroSums = (both: boolean) =>
  `(local.set $a0 (f64x2.splat (f64.const 0))) (local.set $a1 (f64x2.splat (f64.const 0)))` +
  (both ? ` (local.set $b0 (f64x2.splat (f64.const 0))) (local.set $b1 (f64x2.splat (f64.const 0)))` : "");

/**
 * `row_sums(x, y, sums, products, columns, first, last)`: for rows [first, last) of x [rows, columns], sums[r] =
 * Σ_c x[r][c] and, when `y` is not 0, products[r] = Σ_c x[r][c]·y[r][c] (float64 sums, rounded when stored):
 * the bias and LayerNorm-β gradients (Σ dz, Σ dy) and LayerNorm's γ gradient (Σ dy·x̂).
 */
function rowSumsFunction(): string {
  const lanes = (four: boolean) => `
        (local.set $v ${load(four, "(local.get $p)")})
        (local.set $a0 (f64x2.add (local.get $a0) ${low("(local.get $v)")}))
        (local.set $a1 (f64x2.add (local.get $a1) ${high("(local.get $v)")}))
        (if (local.get $y) (then
          (local.set $w ${load(four, "(i32.add (local.get $p) (local.get $offset))")})
          (local.set $b0 (f64x2.add (local.get $b0) (f64x2.mul ${low("(local.get $v)")} ${low("(local.get $w)")})))
          (local.set $b1 (f64x2.add (local.get $b1) (f64x2.mul ${high("(local.get $v)")} ${
    high("(local.get $w)")
  })))))`;
  return `
  (func (export "row_sums") (param $x i32) (param $y i32) (param $sums i32) (param $products i32)
    (param $columns i32) (param $first i32) (param $last i32)
    (local $row i32) (local $p i32) (local $end i32) (local $offset i32)
    (local $v v128) (local $w v128) (local $a0 v128) (local $a1 v128) (local $b0 v128) (local $b1 v128)
    (local.set $offset (i32.sub (local.get $y) (local.get $x)))${
    overRowsOfX(
      zeroSums(true),
      lanes,
      `(f32.store (i32.add (local.get $sums) (i32.shl (local.get $row) (i32.const 2))) ${rowTotal("$a0", "$a1")})
      (if (local.get $y) (then
        (f32.store (i32.add (local.get $products) (i32.shl (local.get $row) (i32.const 2))) ${
        rowTotal("$b0", "$b1")
      })))`,
    )
  }
  )`;
}

/**
 * `multiply_rows(x, y, out, sums, columns, first, last)`: for rows [first, last), out = x ⊙ y and sums[r] = Σ_c
 * out[r][c], the float32 products summed in float64 as row_sums sums them.
 */
function multiplyRowsFunction(): string {
  const lanes = (four: boolean) => `
        (local.set $v (f32x4.mul ${load(four, "(local.get $p)")} ${
    load(four, "(i32.add (local.get $p) (local.get $dy))")
  }))
        ${store(four, "(i32.add (local.get $p) (local.get $dout))", "(local.get $v)")}
        (local.set $a0 (f64x2.add (local.get $a0) ${low("(local.get $v)")}))
        (local.set $a1 (f64x2.add (local.get $a1) ${high("(local.get $v)")}))`;
  return `
  (func (export "multiply_rows") (param $x i32) (param $y i32) (param $out i32) (param $sums i32)
    (param $columns i32) (param $first i32) (param $last i32)
    (local $row i32) (local $p i32) (local $end i32) (local $dy i32) (local $dout i32)
    (local $v v128) (local $a0 v128) (local $a1 v128)
    (local.set $dy (i32.sub (local.get $y) (local.get $x)))
    (local.set $dout (i32.sub (local.get $out) (local.get $x)))${
    overRowsOfX(
      zeroSums(false),
      lanes,
      `(f32.store (i32.add (local.get $sums) (i32.shl (local.get $row) (i32.const 2))) ${rowTotal("$a0", "$a1")})`,
    )
  }
  )`;
}

/** The sum of a row's two float64x2 partial sums, rounded to float32. */
function rowTotal(a0: string, a1: string): string {
  const pair = `(f64x2.add (local.get ${a0}) (local.get ${a1}))`;
  return `(f32.demote_f64 (f64.add (f64x2.extract_lane 0 ${pair}) (f64x2.extract_lane 1 ${pair})))`;
}

/** The functions' WAT, for the kernel module. */
export const COLUMN_OPS_FUNCTIONS = [
  layerNormFunction(),
  backwardColumnsFunction(),
  rowSumsFunction(),
  multiplyRowsFunction(),
].join("\n");
