/**
 * tfjs' normal generator (seedrandom's Alea + Marsaglia's polar method) as one self-contained function: the
 * kernel pool's helper threads run it from its source text, random_normal.ts drives it.
 * @module
 */

/**
 * Fills `out` with normal values of `mean` and `std`, exactly as `tf.randomNormal(shape, mean, std,
 * "float32", seed)` would for a non-zero seed (tfjs takes a seed of 0 as "no seed"; here it is a seed).
 * Self-contained (the kernel pool's threads run it from its source text).
 */
export function fillRandomNormal(out: Float32Array, mean: number, std: number, seed: number): void {
  const TWO_TO_MINUS_32 = 2.3283064365386963e-10;
  // Alea's seeding: seedrandom's Mash hash of " " three times, each less the hash of the seed's text.
  let n = 0xefc8249d;
  const mash = (data: string) => {
    for (let i = 0; i < data.length; i++) {
      n += data.charCodeAt(i);
      let h = 0.02519603282416938 * n;
      n = h >>> 0;
      h -= n;
      h *= n;
      n = h >>> 0;
      h -= n;
      n += h * 0x100000000;
    }
    return (n >>> 0) * TWO_TO_MINUS_32;
  };
  const text = String(seed);
  let s0 = mash(" "), s1 = mash(" "), s2 = mash(" "), c = 1;
  s0 -= mash(text);
  if (s0 < 0) s0 += 1;
  s1 -= mash(text);
  if (s1 < 0) s1 += 1;
  s2 -= mash(text);
  if (s2 < 0) s2 += 1;
  // Marsaglia's polar method, as tfjs' MPRandGauss, on two draws of Alea per try.
  const count = out.length;
  let i = 0;
  while (i < count) {
    let v1: number, v2: number, s: number;
    do {
      // One draw of Alea: t = 2091639·s0 + c·2⁻³², carry c = ⌊t⌋, next = t − c.
      let t = 2091639 * s0 + c * TWO_TO_MINUS_32;
      s0 = s1;
      s1 = s2;
      c = t | 0;
      s2 = t - c;
      v1 = 2 * s2 - 1;
      t = 2091639 * s0 + c * TWO_TO_MINUS_32;
      s0 = s1;
      s1 = s2;
      c = t | 0;
      s2 = t - c;
      v2 = 2 * s2 - 1;
      s = v1 * v1 + v2 * v2;
    } while (s >= 1 || s === 0);
    const mul = Math.sqrt(-2.0 * Math.log(s) / s);
    out[i++] = mean + std * v1 * mul;
    if (i < count) out[i++] = mean + std * v2 * mul;
  }
}
