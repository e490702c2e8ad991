/**
 * A replay reads the same views again and again (a market's config, the liquidation engine's
 * config, a feed's volatility state: the same arguments and the same answer pass after pass), and
 * ethers encodes and decodes each from scratch: it builds a coder for every field, then the bytes or
 * the Result. Both are pure functions: of the types and the values (encoding), of the types, the
 * bytes and the `loose` flag (decoding); and a decoded Result is frozen (immutable, nested ones too;
 * its values are bigints, strings and booleans), so the same answer can be handed out again.
 *
 * `memoizeAbiCoding()` makes the process's default AbiCoder (the one every ethers Interface of the
 * ESM build codes with) remember, per list of types (a function's `inputs` or `outputs`, an error's
 * `inputs`: the fragment's own frozen array; a list built per call, as for an event's fields, is not
 * memoized), the last `PER_TYPES` answers it decoded, keyed by the bytes, and the last `PER_TYPES`
 * encodings of plain arguments (bigints, numbers, strings, booleans; anything else is encoded as
 * before). A miss codes as before; a coding that throws is not remembered (it throws again). A
 * function's selector and an event's topic (a keccak of the fragment's signature, computed again at
 * every access: every call's encoding reads the selector) are remembered per fragment, which is
 * immutable; and an Interface's `getFunction` (a contract call looks its function up by name two or
 * three times, each a scan of every function's signature) remembers what it found per key and per
 * what of the arguments the lookup reads (their count, whether the last is an overrides object),
 * unless an argument is `Typed` (which picks among overloads).
 * Installed by the replay engine only: the keeper service's own process codes as ethers does.
 */
import { AbiCoder, EventFragment, FunctionFragment, Interface, type ParamType, type Result, Typed } from "ethers";

/** Codings remembered per list of types; the oldest is forgotten first. */
export const PER_TYPES = 64;

type Types = ReadonlyArray<string | ParamType>;

/** Hits and misses of the memo (a miss codes as ethers does). */
export const abiMemoStats = { hits: 0, misses: 0 };

let installed = false;

/** Memoizes the default AbiCoder's `decode` and `encode` (idempotent). */
export function memoizeAbiCoding(): void {
  if (installed) return;
  installed = true;
  const coder = AbiCoder.defaultAbiCoder();
  const decode = coder.decode.bind(coder);
  const encode = coder.encode.bind(coder);
  const decoded = new WeakMap<object, Map<string, Result>>();
  const encoded = new WeakMap<object, Map<string, string>>();
  coder.decode = (types: Types, data: string | Uint8Array, loose?: boolean): Result => {
    // only a fragment's own list (frozen, kept as long as the fragment): a list built per call would never hit
    if (!Object.isFrozen(types)) return decode(types, data, loose);
    const hex =
      typeof data === "string"
        ? data.toLowerCase()
        : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("hex");
    return remembered(decoded, types, (loose ? "l" : "s") + hex, () => decode(types, data, loose));
  };
  coder.encode = (types: Types, values: ReadonlyArray<unknown>): string => {
    const key = Object.isFrozen(types) ? plainKey(values) : undefined;
    if (key === undefined) return encode(types, values);
    return remembered(encoded, types, key, () => encode(types, values));
  };
  rememberGetter(FunctionFragment.prototype, "selector");
  rememberGetter(EventFragment.prototype, "topicHash");
  rememberLookups();
}

/** Interface.getFunction, remembered per interface and lookup (see the header). */
function rememberLookups(): void {
  const getFunction = Interface.prototype.getFunction;
  const found = new WeakMap<Interface, Map<string, FunctionFragment>>();
  Interface.prototype.getFunction = function (this: Interface, key: string, values?: unknown[]) {
    const key2 = lookupKey(key, values);
    if (key2 === undefined) return getFunction.call(this, key, values);
    let seen = found.get(this);
    const hit = seen?.get(key2);
    if (hit) return hit;
    const f = getFunction.call(this, key, values);
    if (f) {
      if (!seen) found.set(this, (seen = new Map()));
      seen.set(key2, f);
    }
    return f;
  };
}

/**
 * What `Interface.getFunction(key, values)` depends on: a selector or a full signature alone; a bare
 * name with the count of `values` and whether the last one is an object (overrides may end them);
 * undefined when a value is Typed.
 */
export function lookupKey(key: string, values?: readonly unknown[]): string | undefined {
  if (key.startsWith("0x") || key.includes("(")) return `=${key}`;
  if (!values) return `${key}/`;
  if (values.some((v) => Typed.isTyped(v))) return undefined;
  const last = values.at(-1);
  const objectLast = values.length > 0 && last != null && !Array.isArray(last) && typeof last === "object";
  return `${key}/${values.length}${objectLast ? "o" : ""}`;
}

/** Makes the getter `name` of `proto` compute once per object (which must be immutable). */
function rememberGetter(proto: object, name: string): void {
  const getter = Object.getOwnPropertyDescriptor(proto, name)?.get;
  if (!getter) throw new Error(`abiMemo: ethers has no getter ${name} here any more`);
  const memo = new WeakMap<object, unknown>();
  Object.defineProperty(proto, name, {
    configurable: true,
    enumerable: false,
    get(this: object) {
      let v = memo.get(this);
      if (v === undefined) memo.set(this, (v = getter.call(this)));
      return v;
    },
  });
}

function remembered<T>(memo: WeakMap<object, Map<string, T>>, types: Types, key: string, code: () => T): T {
  let seen = memo.get(types);
  const hit = seen?.get(key);
  if (hit !== undefined) {
    abiMemoStats.hits++;
    return hit;
  }
  abiMemoStats.misses++;
  const out = code();
  if (!seen) memo.set(types, (seen = new Map()));
  if (seen.size >= PER_TYPES) seen.delete(seen.keys().next().value!);
  seen.set(key, out);
  return out;
}

/** An unambiguous key of plain arguments (each typed; strings quoted), or undefined for any other. */
export function plainKey(values: ReadonlyArray<unknown>): string | undefined {
  let key = "";
  for (const v of values) {
    const t = typeof v;
    if (t === "string") key += JSON.stringify(v);
    else if (t === "bigint") key += `n${v as bigint}`;
    else if (t === "number") key += `d${v as number}`;
    else if (t === "boolean") key += `b${v as boolean}`;
    else return undefined;
    key += ",";
  }
  return key;
}
