/**
 * Per-network deployment parameters: deploy/params/<network>.json, validated with zod.
 *
 * Conventions of the files:
 * - bigints are decimal strings ("600000000000000000"), in the unit the contracts take: WAD for
 *   ratios, sizes and rates; whole dollars for a mock feed's starting price; whole tokens for seed
 *   amounts (the collateral's own decimals and ether's 18 are applied here);
 * - an address is either a literal ("0x…") or `{ "configVariable": "NAME" }`, read at deploy time
 *   like Hardhat's configVariable (environment first, then the keystore);
 * - unknown keys are errors, so a misspelt field never silently falls back to a default.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";

import { HDNodeWallet, Mnemonic, getAddress, isAddress } from "ethers";
import { z } from "zod";

import { DEFAULT_MAX_FUNDING_RATE, DEFAULT_RISK, WAD, type MarketSpec, type RiskParams } from "./params.js";

export const PARAMS_DIR = "deploy/params";

export function paramsPath(network: string): string {
  return process.env.PARAMS ?? `${PARAMS_DIR}/${network}.json`;
}

const bigintString = z
  .string({ error: 'expected a decimal integer in a string, e.g. "1000"' })
  .regex(/^\d+$/, 'expected a decimal integer in a string, e.g. "1000" (no sign, point, exponent or separators)')
  .transform((s) => BigInt(s));

const literalAddress = z
  .string()
  .refine((s) => isAddress(s), { error: (i) => `not an address (or a bad checksum): ${JSON.stringify(i.input)}` })
  .transform((s) => getAddress(s));

const configVariableRef = z.strictObject({
  configVariable: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "a configuration variable name, e.g. SEPOLIA_GOVERNOR"),
});

/** An address, or the name of a configuration variable that holds one. */
const addressRef = z.union([literalAddress, configVariableRef], {
  error: (i) =>
    typeof i.input === "string"
      ? `not an address (or a bad checksum): ${JSON.stringify(i.input)}`
      : 'expected an address "0x…" or { "configVariable": "NAME" }',
});

export type AddressRef = z.infer<typeof addressRef>;

const riskOverrides = z.strictObject({
  mmrBase: bigintString.optional(),
  mmrMin: bigintString.optional(),
  mmrMax: bigintString.optional(),
  kMm: bigintString.optional(),
  imMultiplier: bigintString.optional(),
  sizePremium: bigintString.optional(),
  mmrRampPerSecond: bigintString.optional(),
  baseFee: bigintString.optional(),
  kFee: bigintString.optional(),
});

const feed = z.discriminatedUnion(
  "type",
  [
    z.strictObject({
      /** a MockAggregator deployed with the protocol, driven by scripts/local/move-price.ts */
      type: z.literal("mock"),
      decimals: z.number().int().min(0).max(18),
      initialPriceUsd: bigintString.refine((p) => p > 0n, "must be positive"),
    }),
    z.strictObject({
      /** an existing Chainlink AggregatorV3 proxy; its decimals are checked against the chain */
      type: z.literal("chainlink"),
      address: addressRef,
      decimals: z.number().int().min(0).max(36),
    }),
  ],
  { error: 'expected { "type": "mock", … } or { "type": "chainlink", … }' },
);

const market = z.strictObject({
  id: z.number().int().min(0).max(95),
  symbol: z.string().regex(/^[A-Z0-9]{2,12}$/, "2 to 12 capital letters or digits, e.g. ETH"),
  feed,
  /** seconds after which the oracle adapter refuses an answer */
  heartbeat: z
    .number()
    .int()
    .min(60)
    .max(3 * 86_400),
  /** EWMA time constant of the volatility estimate, seconds */
  volWindow: z
    .number()
    .int()
    .min(300)
    .max(30 * 86_400),
  initialSigma: bigintString,
  skewScale: bigintString,
  maxOpenInterest: bigintString,
  maxTradeSize: bigintString,
  maxFundingRatePerSecond: bigintString.optional(),
  risk: riskOverrides.optional(),
});

const seedAccounts = z.strictObject({
  /** a public test mnemonic (local chains only: the deployment record repeats it) */
  mnemonic: z.string().refine((m) => Mnemonic.isValidMnemonic(m), "not a valid BIP-39 mnemonic"),
  /** derivation index of the first account (m/44'/60'/0'/0/<index>) */
  firstIndex: z.number().int().min(0).max(1_000_000),
  count: z.number().int().min(1).max(500),
  /** whole collateral tokens minted to each */
  usdcEach: bigintString,
  /** whole ether sent to each for gas */
  ethEach: bigintString,
});

export const networkParamsSchema = z
  .strictObject({
    description: z.string().optional(),
    /** when given, the deploy refuses to run against another chain */
    chainId: z.number().int().positive().optional(),
    /** blocks to wait for each transaction */
    confirmations: z.number().int().min(1).max(64).default(1),
    /** collateral token; a MockUSDC is deployed when absent */
    collateral: addressRef.optional(),
    roles: z.strictObject({
      /** GOVERNOR holder; with a timelock, its proposer and executor instead */
      governor: addressRef,
      guardian: addressRef,
      /** bounded risk-oracle role on the circuit breaker */
      riskOracle: addressRef.optional(),
      /** ADL_KEEPER on the engine: the keeper that runs auto-deleveraging (nobody can without one) */
      adlKeeper: addressRef.optional(),
      /** DEFAULT_ADMIN_ROLE holder; defaults to the governor; not allowed with a timelock */
      admin: addressRef.optional(),
    }),
    /** deploy a TimelockController that holds GOVERNOR and DEFAULT_ADMIN_ROLE */
    timelock: z
      .strictObject({
        /** seconds between scheduling and executing a governance call */
        minDelay: z
          .number()
          .int()
          .min(0)
          .max(30 * 86_400),
        /** who may execute a ready call: the governor when absent; [] lets anyone execute */
        executors: z.array(addressRef).optional(),
      })
      .optional(),
    /** deploy the circuit breaker and its triggers */
    breaker: z.boolean().default(true),
    /**
     * two-step orders (IOrders), switched on for good: every risk-adding trade is committed, then
     * settled at the first oracle round at least minDelay seconds later. Bounds as OrderModule's.
     */
    orders: z
      .strictObject({
        /** seconds, 1..300 */
        minDelay: z.number().int().min(1).max(300),
        /** seconds, minDelay + 10 .. 86400: keep it above the feeds' heartbeat */
        maxDelay: z.number().int().min(11).max(86_400),
        /** WAD paid to the settler from the trader's margin, at most 100e18 */
        settlementReward: bigintString,
      })
      .refine((o) => o.maxDelay >= o.minDelay + 10, { message: "maxDelay must be at least minDelay + 10" })
      .refine((o) => o.settlementReward <= 100n * 10n ** 18n, { message: "settlementReward above 100e18" })
      .optional(),
    markets: z.array(market).min(1, "at least one market").max(96),
    seed: z
      .strictObject({
        /** whole collateral tokens the deployer deposits as LP liquidity */
        lpLiquidity: bigintString,
        /** whole collateral tokens the deployer stakes in the insurance fund */
        insuranceStake: bigintString,
        accounts: seedAccounts.optional(),
      })
      .optional(),
  })
  // The cross-field rules run even when some fields are bad, so that one pass names every problem:
  // each rule looks only at values that parsed (a bigint where a bigint belongs).
  .superRefine((parsed, ctx) => crossFieldChecks(parsed as unknown as Loose, ctx), {
    when: (payload) => typeof payload.value === "object" && payload.value !== null,
  });

/** The file as the cross-field rules see it: any field may still be the raw, unparsed input. */
type Loose = {
  markets?: unknown;
  roles?: { admin?: unknown; riskOracle?: unknown };
  timelock?: unknown;
  breaker?: unknown;
  collateral?: unknown;
  seed?: { accounts?: unknown };
};

function crossFieldChecks(p: Loose, ctx: z.RefinementCtx): void {
  const big = (x: unknown): x is bigint => typeof x === "bigint";
  const seen = { id: new Map<unknown, number>(), symbol: new Map<unknown, number>() };
  const markets = Array.isArray(p.markets) ? (p.markets as Record<string, unknown>[]) : [];
  markets.forEach((m, i) => {
    if (typeof m !== "object" || m === null) return;
    for (const key of ["id", "symbol"] as const) {
      const value = m[key];
      if (value === undefined) continue;
      const first = seen[key].get(value);
      if (first !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["markets", i, key],
          message: `duplicate ${key} ${JSON.stringify(value)} (also markets[${first}])`,
        });
      } else seen[key].set(value, i);
    }
    // The engine's own bounds (PerpEngine._checkConfig), repeated here to fail before any transaction.
    const { skewScale, maxOpenInterest, maxTradeSize } = m;
    if (big(skewScale) && big(maxOpenInterest) && maxOpenInterest > (skewScale * (WAD / 4n)) / WAD) {
      ctx.addIssue({
        code: "custom",
        path: ["markets", i, "maxOpenInterest"],
        message: `must be at most skewScale / 4 (${skewScale / 4n}), the engine's fill-price bound`,
      });
    }
    if (big(maxTradeSize) && big(maxOpenInterest) && (maxTradeSize === 0n || maxTradeSize > maxOpenInterest)) {
      ctx.addIssue({
        code: "custom",
        path: ["markets", i, "maxTradeSize"],
        message: "must be between 1 and maxOpenInterest",
      });
    }
  });
  if (p.timelock && p.roles?.admin) {
    ctx.addIssue({
      code: "custom",
      path: ["roles", "admin"],
      message: "with a timelock, the timelock is the admin: remove roles.admin",
    });
  }
  if (p.roles?.riskOracle && p.breaker === false) {
    ctx.addIssue({
      code: "custom",
      path: ["roles", "riskOracle"],
      message: "the risk-oracle role lives on the circuit breaker: set breaker to true or remove it",
    });
  }
  if (p.seed?.accounts && p.collateral) {
    ctx.addIssue({
      code: "custom",
      path: ["seed", "accounts"],
      message: "seeded accounts are minted mock collateral: remove collateral (a MockUSDC is deployed) or them",
    });
  }
}

export type NetworkParams = z.output<typeof networkParamsSchema>;
export type MarketParams = NetworkParams["markets"][number];

export class ParamsError extends Error {
  constructor(
    readonly path: string,
    readonly problems: string[],
  ) {
    super(`${path}: invalid deployment parameters\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

/** "markets[1].feed.address" from zod's ["markets", 1, "feed", "address"]. */
function fieldName(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out === "" ? "(the whole file)" : out;
}

/** Validates parsed JSON; throws ParamsError naming every bad field. */
export function parseParams(json: unknown, source = "params"): NetworkParams {
  const result = networkParamsSchema.safeParse(json);
  if (!result.success) {
    throw new ParamsError(
      source,
      result.error.issues.flatMap((i) =>
        i.code === "unrecognized_keys"
          ? i.keys.map((k) => `${fieldName([...i.path, k])}: unknown field (misspelt?)`)
          : [`${fieldName(i.path)}: ${i.message}`],
      ),
    );
  }
  return result.data;
}

export function loadParams(path: string): NetworkParams {
  if (!existsSync(path)) {
    throw new ParamsError(path, [
      `no such file: write deploy/params/<network>.json for this network, or point PARAMS at one`,
    ]);
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new ParamsError(path, [`not valid JSON: ${(e as Error).message}`]);
  }
  return parseParams(json, path);
}

/**
 * A stable fingerprint of what validated parameters deploy (bigints as strings, keys in schema
 * order). The description and the confirmation count change nothing on chain and are left out.
 */
export function paramsHash(p: NetworkParams): string {
  const { description: _d, confirmations: _c, ...deployed } = p;
  const canonical = JSON.stringify(deployed, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  return "0x" + createHash("sha256").update(canonical).digest("hex");
}

/** The protocol's MarketSpec for validated market params (defaults filled in). */
export function marketSpec(m: MarketParams): MarketSpec {
  const risk: RiskParams = { ...DEFAULT_RISK };
  for (const [k, v] of Object.entries(m.risk ?? {})) {
    if (v !== undefined) risk[k as keyof RiskParams] = v;
  }
  return {
    id: m.id,
    symbol: m.symbol,
    initialPriceUsd: m.feed.type === "mock" ? m.feed.initialPriceUsd : 0n,
    feedDecimals: m.feed.decimals,
    heartbeat: m.heartbeat,
    volWindow: m.volWindow,
    initialSigma: m.initialSigma,
    skewScale: m.skewScale,
    maxOpenInterest: m.maxOpenInterest,
    maxTradeSize: m.maxTradeSize,
    maxFundingRatePerSecond: m.maxFundingRatePerSecond ?? DEFAULT_MAX_FUNDING_RATE,
    risk,
  };
}

/** Resolves an address reference; `lookup` reads a configuration variable. */
export async function resolveAddress(
  ref: AddressRef,
  field: string,
  lookup: (name: string) => Promise<string>,
): Promise<string> {
  if (typeof ref === "string") return ref;
  let value: string;
  try {
    value = (await lookup(ref.configVariable)).trim();
  } catch (e) {
    throw new ParamsError(field, [
      `configuration variable ${ref.configVariable} is not set: export it or run \`npx hardhat keystore set ${ref.configVariable}\` (${(e as Error).message})`,
    ]);
  }
  if (!isAddress(value)) {
    throw new ParamsError(field, [`configuration variable ${ref.configVariable} is not an address: ${value}`]);
  }
  return getAddress(value);
}

/** Wallets m/44'/60'/0'/0/<firstIndex + i> of a mnemonic (the seeded trader accounts). */
export function seedWallets(mnemonic: string, firstIndex: number, count: number): HDNodeWallet[] {
  // One PBKDF2 for the branch, then cheap child derivations.
  const branch = HDNodeWallet.fromPhrase(mnemonic, undefined, "m/44'/60'/0'/0");
  return Array.from({ length: count }, (_, i) => branch.deriveChild(firstIndex + i));
}
