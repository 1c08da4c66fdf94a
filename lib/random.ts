/**
 * A small seeded PRNG, so shuffles, splits, initialisations and fixtures are the same
 * on every machine.
 * @module
 */

/** Returns a mulberry32 generator of floats in [0, 1) for `seed`. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal draw from two uniform draws of `random` (Box-Muller). */
export function normalFrom(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** A Gamma(shape, 1) draw from `random` (Marsaglia and Tsang; shapes below 1 through Gamma(shape + 1)·U^(1/shape)). */
export function gammaFrom(random: () => number, shape: number): number {
  if (shape < 1) return gammaFrom(random, shape + 1) * Math.pow(1 - random(), 1 / shape);
  const d = shape - 1 / 3, c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number, v: number;
    do {
      x = normalFrom(random);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - random();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** A Beta(a, b) draw from `random`, as X/(X+Y) of two Gamma draws. */
export function betaFrom(random: () => number, a: number, b: number): number {
  const x = gammaFrom(random, a), y = gammaFrom(random, b);
  return x / (x + y);
}
