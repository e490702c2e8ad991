/**
 * mulberry32: a small, fast, well-mixed 32-bit PRNG, deterministic for a seed on every platform. Used
 * only to draw test data, populations and bootstrap paths, never for money arithmetic.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Standard normal draws from mulberry32 by Box-Muller (one draw per pair of uniforms), deterministic
 * for a seed: test data and bootstrap experiments only.
 */
export function normals(seed: number): () => number {
  const u = mulberry32(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}
