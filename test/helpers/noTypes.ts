/**
 * Node arguments that make the generated TypeChain types (types/ethers-contracts) missing, as on a
 * fresh clone before any compile: a resolve hook answers ERR_MODULE_NOT_FOUND for them.
 */
const hook =
  "export async function resolve(s, c, next) {" +
  " if (s.includes('types/ethers-contracts')) {" +
  " const e = new Error('Cannot find module ' + s); e.code = 'ERR_MODULE_NOT_FOUND'; throw e; }" +
  " return next(s, c); }";
const register =
  `import { register } from "node:module"; ` +
  `register("data:text/javascript," + ${JSON.stringify(encodeURIComponent(hook))});`;

export const NO_TYPES_NODE_ARGS = ["--import", `data:text/javascript,${encodeURIComponent(register)}`];
