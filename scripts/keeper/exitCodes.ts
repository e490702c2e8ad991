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
} as const;

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
