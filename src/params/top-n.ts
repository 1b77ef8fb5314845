// top_n(v): the indices of the n entries of largest magnitude, by radix selection on the float bits (O(k), no sort).

const SIGN_OFF = 0x7fffffff;
const NAN_BITS = 0x7f800000; // bits above this (after clearing the sign) are NaN
/** Most entries of the threshold bin kept as a candidate list (64 MiB); beyond, a third pass finds the threshold. */
const MAX_CANDIDATES = 1 << 24;

/** Views of the raw bits of each chunk (no copy). */
function bitViews(chunks: Float32Array[]): Uint32Array[] {
  return chunks.map((c) => new Uint32Array(c.buffer, c.byteOffset, c.length));
}

/**
 * Global indices (over the concatenation of `values`) of the `n` entries of largest |v|, in increasing index
 * order. Ties at the threshold go to the lower indices, so the result is deterministic. Runs in O(k) and never
 * sorts: a 65,536-bin histogram of the high 16 bits of |v| (the float bits of |v| order like the values) finds the
 * bin holding the threshold; one more pass collects the entries above that bin and the candidates in it, and the
 * threshold is found among the candidates by their low 16 bits (when the bin is huge, a pass histograms them
 * instead and a third pass collects). Passes that take many entries are branch-free.
 * 10^8 values take about 0.3–0.7 s on one core (BENCHMARKS.md).
 * NaN entries are an error (a NaN gradient cannot be ranked).
 *
 * @param values one array, or several (one per tensor) treated as their concatenation
 * @param n how many to keep, 0 ≤ n ≤ total length
 * @param opts.maxCandidates most entries of the threshold bin to list before a third pass is used instead (default 2^24)
 *
 * @example
 * topN(new Float32Array([0.1, -3, 2, 0]), 2); // Uint32Array [1, 2]
 */
export function topN(values: Float32Array | Float32Array[], n: number, opts: { maxCandidates?: number } = {}): Uint32Array {
  const chunks = Array.isArray(values) ? values : [values];
  let k = 0;
  for (const c of chunks) k += c.length;
  if (!Number.isInteger(n) || n < 0 || n > k) throw new RangeError(`topN: n must be an integer in [0, ${k}], got ${n}`);
  if (k > 0xffffffff) throw new RangeError(`topN: at most 2^32 values, got ${k}`);
  if (n === 0) return new Uint32Array(0);
  if (n === k) {
    checkNoNaN(bitViews(chunks));
    const every = new Uint32Array(k);
    for (let i = 0; i < k; i++) every[i] = i;
    return every;
  }
  const bits = bitViews(chunks);

  // Pass 1: histogram of the high 16 bits of |v|.
  const hi = highHistogram(bits);
  if (hi[NAN_BITS >>> 16] > 0 || sumAbove(hi, NAN_BITS >>> 16) > 0) checkNoNaN(bits);
  // The bin holding the n-th largest, and how many lie strictly above it.
  let above = 0;
  let hiBin = 65535;
  for (; hiBin >= 0; hiBin--) {
    if (above + hi[hiBin] >= n) break;
    above += hi[hiBin];
  }

  // Usually the threshold bin holds few entries: one more pass collects those above it and those in it, and the
  // threshold is found among the latter alone.
  if (hi[hiBin] <= (opts.maxCandidates ?? MAX_CANDIDATES)) return collectWithCandidates(bits, k, n, hiBin, above, hi[hiBin]);

  // Pass 2: histogram of the low 16 bits inside that bin.
  const lo = new Uint32Array(65536);
  for (const b of bits) {
    for (let i = 0, m = b.length; i < m; i++) {
      const x = b[i] & SIGN_OFF;
      if (x >>> 16 === hiBin) lo[x & 0xffff]++;
    }
  }
  let loBin = 65535;
  for (; loBin >= 0; loBin--) {
    if (above + lo[loBin] >= n) break;
    above += lo[loBin];
  }
  const threshold = ((hiBin << 16) | loBin) >>> 0;
  const ties = n - above; // entries equal to the threshold to take, lowest index first
  const equal = lo[loBin];

  // Pass 3: collect, in index order. The loop is branch-free (a write per entry, the cursor advancing by 0 or 1):
  // taking about half of the entries makes a branch unpredictable and three times slower.
  const sure = above + equal; // every entry ≥ threshold
  // Few taken: a branch is predictable and cheaper than a store per entry. Many ties: not worth the memory.
  if (sure < k / 64 || sure > n + (n >>> 1) + 4096) return collectBranchy(bits, threshold, ties, n);
  const all = new Uint32Array(sure + 1);
  const below = threshold - 1; // x ≥ threshold ⇔ below − x < 0; both < 2^31, so the sign bit is the test
  let w = 0;
  let base = 0;
  for (const b of bits) {
    for (let i = 0, m = b.length; i < m; i++) {
      all[w] = base + i;
      w += (below - (b[i] & SIGN_OFF)) >>> 31;
    }
    base += b.length;
  }
  if (equal === ties) return all.subarray(0, n); // a view: copying 4n bytes would cost as much as a pass
  // Drop the ties beyond the quota (the ones of highest index).
  const out = new Uint32Array(n);
  let seen = 0;
  let o = 0;
  for (let j = 0; j < sure; j++) {
    const g = all[j];
    if ((lookup(bits, g) & SIGN_OFF) >>> 0 === threshold && seen++ >= ties) continue;
    out[o++] = g;
  }
  return out;
}

/**
 * Second and last pass when the threshold bin is small: indices above the bin (`above` of them, all taken) and in
 * it (`inBin`), in index order; the threshold is then found among the candidates and the two lists merged.
 */
function collectWithCandidates(bits: Uint32Array[], k: number, n: number, hiBin: number, above: number, inBin: number): Uint32Array {
  // The entries above the bin go straight into the output (above < n, so the branch-free spare write fits);
  // the chosen candidates are merged in afterwards, from the back.
  const sure = new Uint32Array(n);
  const cand = new Uint32Array(inBin + 1);
  let s = 0;
  let c = 0;
  let base = 0;
  if (above + inBin < k / 64) {
    for (const b of bits) {
      for (let i = 0, m = b.length; i < m; i++) {
        const key = (b[i] & SIGN_OFF) >>> 16;
        if (key >= hiBin) {
          if (key > hiBin) sure[s++] = base + i;
          else cand[c++] = base + i;
        }
      }
      base += b.length;
    }
  } else {
    // Branch-free: a store to each list per entry, each cursor advancing by 0 or 1.
    for (const b of bits) {
      for (let i = 0, m = b.length; i < m; i++) {
        const key = (b[i] & SIGN_OFF) >>> 16;
        sure[s] = base + i;
        s += (hiBin - key) >>> 31;
        cand[c] = base + i;
        c += ((key ^ hiBin) - 1) >>> 31;
      }
      base += b.length;
    }
  }
  // The threshold among the candidates, by their low 16 bits.
  const flat = bits.length === 1 ? bits[0] : undefined;
  const at = (g: number) => (flat ? flat[g] : lookup(bits, g)) & 0xffff;
  const lo = new Uint32Array(65536);
  for (let j = 0; j < c; j++) lo[at(cand[j])]++;
  let need = n - above;
  let loBin = 65535;
  for (; loBin >= 0; loBin--) {
    if (lo[loBin] >= need) break;
    need -= lo[loBin];
  }
  // `need` entries equal to the threshold are taken, lowest index first.
  let w = 0;
  for (let j = 0; j < c; j++) {
    const x = at(cand[j]);
    if (x > loBin || (x === loBin && need-- > 0)) cand[w++] = cand[j];
  }
  // Merge in place from the back: s + w = n, and writes never overtake the reads.
  let i = s - 1;
  let j = w - 1;
  for (let o = n - 1; j >= 0; o--) sure[o] = i >= 0 && sure[i] > cand[j] ? sure[i--] : cand[j--];
  return sure;
}

/** Histogram of the high 16 bits of |v|, counted into four interleaved tables (consecutive equal bins would stall). */
function highHistogram(bits: Uint32Array[]): Uint32Array {
  const h = new Uint32Array(4 * 65536);
  for (const b of bits) {
    const m = b.length & ~3;
    let i = 0;
    for (; i < m; i += 4) {
      h[(b[i] & SIGN_OFF) >>> 16]++;
      h[65536 + ((b[i + 1] & SIGN_OFF) >>> 16)]++;
      h[131072 + ((b[i + 2] & SIGN_OFF) >>> 16)]++;
      h[196608 + ((b[i + 3] & SIGN_OFF) >>> 16)]++;
    }
    for (; i < b.length; i++) h[(b[i] & SIGN_OFF) >>> 16]++;
  }
  for (let j = 0; j < 65536; j++) h[j] += h[65536 + j] + h[131072 + j] + h[196608 + j];
  return h.subarray(0, 65536);
}

function collectBranchy(bits: Uint32Array[], threshold: number, ties: number, n: number): Uint32Array {
  const out = new Uint32Array(n);
  let w = 0;
  let base = 0;
  for (const b of bits) {
    for (let i = 0, m = b.length; i < m; i++) {
      const x = (b[i] & SIGN_OFF) >>> 0;
      if (x > threshold) out[w++] = base + i;
      else if (x === threshold && ties > 0) {
        out[w++] = base + i;
        ties--;
      }
    }
    base += b.length;
  }
  return out;
}

function lookup(bits: Uint32Array[], g: number): number {
  for (const b of bits) {
    if (g < b.length) return b[g];
    g -= b.length;
  }
  throw new RangeError('index out of range');
}

function sumAbove(hist: Uint32Array, bin: number): number {
  let s = 0;
  for (let i = bin + 1; i < hist.length; i++) s += hist[i];
  return s;
}

function checkNoNaN(bits: Uint32Array[]): void {
  let base = 0;
  for (const b of bits) {
    for (let i = 0; i < b.length; i++) {
      if ((b[i] & SIGN_OFF) > NAN_BITS) throw new RangeError(`topN: value ${base + i} is NaN`);
    }
    base += b.length;
  }
}
