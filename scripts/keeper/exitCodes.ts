/**
 * Process exit codes of the keeper CLI. Each start-up failure has its own code so that a supervisor
 * (systemd, Kubernetes, a test) can tell "fix the configuration" from "the node is down".
 */
export const ExitCode = {
  /** stopped on request (SIGINT / SIGTERM) or `--once` finished */
  Ok: 0,
  /** an unexpected error after start-up; the message says what failed */
  Fatal: 1,
  /** the configuration is invalid: a missing key, a bad URL, an out-of-range number */
  BadConfig: 2,
  /** the node's chain id is not the one configured (`--chain-id`) or the deployment record's */
  WrongChain: 3,
  /** no deployment record for this network and chain id, or it points at no contract */
  UnknownDeployment: 4,
  /** the RPC endpoint did not answer at start-up */
  RpcUnreachable: 5,
  /** the key holds no ether to pay for gas (start-up check), or `--once` saw a send refused for that */
  Unfunded: 6,
  /** `--once`: the node refused one of the keeper's transactions for another reason */
  Refused: 7,
  /** another keeper runs with the same key or the same checkpoint */
  AlreadyRunning: 8,
} as const;

/** The table `--help` prints and the README repeats. */
export const EXIT_CODE_HELP: [ExitCode, string][] = [
  [ExitCode.Ok, "stopped by SIGINT/SIGTERM, or --once done with every transaction accepted"],
  [ExitCode.Fatal, "unexpected error (the message says what failed); not compiled (run npx hardhat compile)"],
  [ExitCode.BadConfig, "bad configuration: missing key, bad value, unknown flag or KEEPER_* variable, port in use"],
  [ExitCode.WrongChain, "wrong chain: the node's chain id is not --chain-id, or not the deployment record's"],
  [ExitCode.UnknownDeployment, "unknown deployment: no record for this network and chain id, or no contract at it"],
  [ExitCode.RpcUnreachable, "RPC unreachable at start-up (after --startup-retries)"],
  [ExitCode.Unfunded, "the key holds no ether for gas (live mode), or --once had a send refused for lack of funds"],
  [ExitCode.Refused, "--once: the node refused a transaction for another reason"],
  [ExitCode.AlreadyRunning, "another keeper runs with this key or this checkpoint (its pid is named)"],
];

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error that ends the CLI with a given exit code and a message meant for the operator. */
export class KeeperExit extends Error {
  constructor(
    readonly code: ExitCode,
    message: string,
  ) {
    super(message);
    this.name = "KeeperExit";
  }
}
