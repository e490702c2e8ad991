/**
 * The replay's own processes (the replay CLI, its workers, the benchmark) connect to Hardhat's in-process
 * network without its contract decoder.
 *
 * Hardhat (3.18) builds one contract decoder per process, at the first in-process connection, from every
 * build info in artifacts/ (76 MB here: about 1 to 2 s of CPU a process), and shares it with every later
 * connection; nothing configures it. The decoder only turns a failing call into a Solidity stack trace in
 * the error's message. The replay and its keeper read a revert from its data (`decodeRevert`), never from
 * that message, so a run without the decoder sends the same transactions and reads the same answers
 * (`compareReports.ts` on the benchmark's runs).
 *
 * `withoutContractDecoder` makes that first connection itself while the artifacts list no build info, so
 * that the decoder Hardhat keeps is an empty one, then puts the listing back. It is a no-op (the full
 * decoder, as before) when a connection was made before, or when the runtime has no such listing to
 * stand in for (another Hardhat). Tests never call it: their failures keep their stack traces.
 */

/** The part of the Hardhat runtime this touches (structural, so a test can hand in a stand-in). */
export type DecoderRuntime = {
  artifacts: object;
  network: { create(): Promise<{ close(): Promise<void> }> };
};

const LISTING = "getAllBuildInfoIds";

/**
 * Make the process's first in-process connection with no build infos listed. True when it stood in for
 * the listing (the decoder Hardhat keeps is then empty, unless a connection was made earlier), false when
 * the runtime had none to stand in for. The listing is restored however the connection ends.
 */
export async function withoutContractDecoder(hre: DecoderRuntime): Promise<boolean> {
  const artifacts = hre.artifacts as Record<string, unknown>;
  if (typeof artifacts[LISTING] !== "function") return false;
  const own = Object.getOwnPropertyDescriptor(artifacts, LISTING);
  Object.defineProperty(artifacts, LISTING, {
    value: async () => [] as string[],
    configurable: true,
    writable: true,
  });
  try {
    const connection = await hre.network.create();
    await connection.close();
  } finally {
    if (own) Object.defineProperty(artifacts, LISTING, own);
    else delete artifacts[LISTING];
  }
  return true;
}
