/**
 * A small seeded pseudo-random generator (mulberry32): fast, 32-bit state, reproducible across platforms.
 * Not cryptographic.
 */
export class Rng {
  private state: number;
  private spare: number | undefined;

  /**
   * @param seed any integer (or float; it is truncated to 32 bits)
   *
   * @example
   * const rng = new Rng(42); rng.uniform(); // same value every run
   */
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Next raw 32-bit unsigned integer. */
  nextUint32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /**
   * Uniform float in [0, 1).
   *
   * @example
   * new Rng(1).uniform(); // 0 <= x < 1
   */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /**
   * Normal sample by the Box-Muller transform (the second value of each pair is cached).
   *
   * @param mean distribution mean (default 0)
   * @param std standard deviation (default 1)
   *
   * @example
   * new Rng(1).normal(0, 0.02);
   */
  normal(mean = 0, std = 1): number {
    if (this.spare !== undefined) {
      const z = this.spare;
      this.spare = undefined;
      return mean + std * z;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }

  /**
   * Uniform integer in [0, n), without modulo bias.
   *
   * @param n exclusive upper bound, 1 ≤ n ≤ 2^32
   *
   * @example
   * new Rng(1).int(10); // 0..9
   */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296) throw new RangeError(`Rng.int: bound must be an integer in [1, 2^32], got ${n}`);
    const limit = 4294967296 - (4294967296 % n);
    let x: number;
    do x = this.nextUint32();
    while (x >= limit);
    return x % n;
  }

  /**
   * Shuffle an array in place (Fisher-Yates) and return it.
   *
   * @param array array or typed array to permute
   *
   * @example
   * new Rng(7).shuffle([1, 2, 3, 4]);
   */
  shuffle<T extends { length: number; [i: number]: unknown }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /**
   * A random permutation of 0..n-1.
   *
   * @param n length
   *
   * @example
   * new Rng(7).permutation(5); // Uint32Array of 0..4 in random order
   */
  permutation(n: number): Uint32Array {
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}

/**
 * Create a seeded generator.
 *
 * @param seed integer seed
 *
 * @example
 * const rng = createRng(0); rng.int(6);
 */
export function createRng(seed: number): Rng {
  return new Rng(seed);
}
