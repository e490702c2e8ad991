/**
 * Reads the one CSV of a Binance kline archive with adm-zip (stored or deflated entries; adm-zip
 * checks each entry's length and CRC-32 as it inflates). Its errors become BadZipError, worded for
 * the person whose download it was.
 */
import AdmZip from "adm-zip";

import { BadZipError } from "./errors.js";

/** What adm-zip says, in this project's words (it prefixes its messages with "ADM-ZIP: "). */
function reason(e: unknown): string {
  const message = (e instanceof Error ? e.message : String(e)).replace(/^ADM-ZIP:\s*/, "");
  if (/END header/i.test(message)) return `no end-of-central-directory record (${message})`;
  if (/CRC/i.test(message)) return `CRC-32 mismatch: the entry is corrupt (${message})`;
  return message;
}

/** The one file of an archive that must hold exactly one (directories aside). */
export function readSingleFileZip(zip: Uint8Array, source: string): { name: string; data: Buffer } {
  let archive: AdmZip;
  try {
    archive = new AdmZip(Buffer.from(zip.buffer, zip.byteOffset, zip.byteLength));
  } catch (e) {
    throw new BadZipError(source, reason(e));
  }
  const files = archive.getEntries().filter((entry) => !entry.isDirectory);
  if (files.length !== 1) {
    const names = files.map((entry) => entry.entryName).join(", ");
    throw new BadZipError(source, `expected exactly one file, found ${files.length}${names ? `: ${names}` : ""}`);
  }
  const [entry] = files;
  if (entry.header.encrypted) throw new BadZipError(source, `${entry.entryName} is encrypted`);
  let data: Buffer;
  try {
    data = entry.getData();
  } catch (e) {
    throw new BadZipError(source, reason(e));
  }
  // adm-zip reports some failures by returning less than the declared size instead of throwing
  if (data.length !== entry.header.size) {
    throw new BadZipError(source, `${entry.entryName}: ${data.length} bytes inflated, ${entry.header.size} declared`);
  }
  return { name: entry.entryName, data };
}
