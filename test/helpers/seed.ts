/** The fast-check seed of every property test: fixed, so failures reproduce; FC_SEED overrides. */
export const DEFAULT_SEED = 20_251_121;

function readSeed(): number {
  const raw = process.env.FC_SEED;
  if (raw === undefined || raw === "") return DEFAULT_SEED;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed)) throw new Error(`FC_SEED must be an integer, got "${raw}"`);
  return seed;
}

export const fcSeed = readSeed();

export const seedBanner = (numRuns: number): string =>
  `      fast-check seed ${fcSeed} (reproduce with FC_SEED=${fcSeed}), ${numRuns} cases per property`;
