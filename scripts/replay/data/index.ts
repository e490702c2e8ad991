/**
 * The crash-data layer in one import: the catalogue of events and their real series (read from
 * CRASH_DATA_DIR), the project's stylised scenarios, and the file loaders.
 */
export {
  CRASH_EVENT_IDS,
  type CrashEventId,
  crashEvent,
  describeEvent,
  eventFiles,
  loadEvent,
  resolveCrashDataDir,
} from "./catalogue.js";
export { stylisedPaths } from "./stylised.js";
export { ohlcPath, oraclePath, readOhlcFile, readOracleFile } from "./loaders.js";
export { USER_PATH_EVENT, loadUserPaths, parseUserPath, symbolFromFileName } from "./userPaths.js";
export { CrashDataError, MalformedDataError, UserPathError } from "./errors.js";
