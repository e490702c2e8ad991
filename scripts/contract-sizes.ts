/**
 * Prints the deployed bytecode size of every contract compiled from contracts/ (mocks and the
 * math harness included, marked), largest first, against the 21,000-byte budget each deployed
 * contract keeps (EIP-170's hard limit is 24,576). Reads the Hardhat artifacts: run after a compile.
 *
 *   npx tsx scripts/contract-sizes.ts            (exit code 1 when a deployed contract is over, 2 before a compile)
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

export const SIZE_BUDGET = 21_000;
export const EIP170_LIMIT = 24_576;

export type ContractSize = { name: string; source: string; bytes: number; deployed: boolean };

/** Contracts that never go on chain in a deployment (test doubles, the differential-test harness). */
function isTestOnly(source: string): boolean {
  return source.startsWith("contracts/mocks/") || source.startsWith("contracts/harness/");
}

export function contractSizes(root = process.cwd()): ContractSize[] {
  const dir = path.join(root, "artifacts", "contracts");
  const out: ContractSize[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d)) {
      const p = path.join(d, entry);
      if (statSync(p).isDirectory()) walk(p);
      else if (entry.endsWith(".json") && !entry.endsWith(".dbg.json")) {
        const a = JSON.parse(readFileSync(p, "utf8")) as {
          contractName?: string;
          sourceName?: string;
          deployedBytecode?: string;
        };
        const code = a.deployedBytecode ?? "0x";
        const bytes = (code.length - 2) / 2;
        if (a.contractName === undefined || a.sourceName === undefined || bytes === 0) continue;
        // libraries with only internal functions compile to a stub nobody deploys
        if (bytes < 100) continue;
        out.push({ name: a.contractName, source: a.sourceName, bytes, deployed: !isTestOnly(a.sourceName) });
      }
    }
  };
  walk(dir);
  return out.sort((x, y) => y.bytes - x.bytes);
}

export function formatSizes(sizes: ContractSize[]): string {
  const lines = [`contract sizes (deployed bytecode, budget ${SIZE_BUDGET} bytes, EIP-170 ${EIP170_LIMIT}):`];
  for (const s of sizes) {
    const note = !s.deployed ? "  (test only)" : s.bytes > SIZE_BUDGET ? "  OVER BUDGET" : "";
    lines.push(
      `  ${s.name.padEnd(28)} ${String(s.bytes).padStart(6)}  headroom ${String(SIZE_BUDGET - s.bytes).padStart(6)}${note}`,
    );
  }
  return lines.join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (!existsSync(path.join(process.cwd(), "artifacts", "contracts"))) {
    console.error(
      "contract-sizes: no artifacts/contracts here; run `npx hardhat compile` first (from the repository root)",
    );
    process.exit(2);
  }
  const sizes = contractSizes();
  console.log(formatSizes(sizes));
  if (sizes.some((s) => s.deployed && s.bytes > SIZE_BUDGET)) process.exit(1);
}
