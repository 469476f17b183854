/**
 * Seeded pseudo-random numbers: the same seed gives the same sequence on every machine and Node
 * version, which is what makes a scripted run or a chaos schedule reproducible. Not for security.
 */

/** A generator of uniform numbers in [0, 1) (mulberry32: small, fast, good enough for simulations). */
export function seededRandom(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit seed derived from several parts (FNV-1a over their text), e.g. a run's seed and a symbol. */
export function deriveSeed(...parts: (string | number)[]): number {
  let hash = 0x811c9dc5;
  for (const ch of parts.join('\u0000')) {
    hash ^= ch.codePointAt(0)!;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
