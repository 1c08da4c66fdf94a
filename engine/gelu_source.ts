/**
 * GELU over rows of a [rows, columns] activation, with the derivative its backward pass needs, as one
 * self-contained function: the kernel pool's helper threads run it from its source text, column_ops.ts
 * drives it.
 * @module
 */

/**
 * For rows [firstRow, lastRow): u = z + b[row], a = u·Φ(u), d = Φ(u) + u·φ(u); Φ through erf by Abramowitz &
 * Stegun 7.1.26 (absolute error below 1.5e-7, the formula of tfjs' cpu and WebGL tf.erf), sharing its
 * exp(−u²/2) with the density φ(u): one exp per value.
 */
export function biasGeluRows(
  z: Float32Array,
  bias: Float32Array,
  a: Float32Array,
  d: Float32Array,
  firstRow: number,
  lastRow: number,
  columns: number,
): void {
  const INV_SQRT2 = Math.SQRT1_2, INV_SQRT_2PI = 0.3989422804014327;
  for (let r = firstRow; r < lastRow; r++) {
    const b = bias[r];
    for (let i = r * columns, end = i + columns; i < end; i++) {
      const u = z[i] + b;
      const e = Math.exp(-0.5 * u * u);
      const t = 1 / (1 + 0.3275911 * INV_SQRT2 * Math.abs(u));
      const poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t;
      const half = 0.5 * (1 - poly * e); // erf(|u|/√2) / 2
      const cdf = u >= 0 ? 0.5 + half : 0.5 - half;
      a[i] = u * cdf;
      d[i] = cdf + u * INV_SQRT_2PI * e;
    }
  }
}
