/**
 * A minimal zip reader for the Binance kline archives: one file per archive, stored or deflated,
 * no encryption, no zip64. It finds the entry through the central directory (whose sizes are
 * always filled in, unlike a local header written with a data descriptor), then reads the local
 * file header to reach the data, inflates it with node:zlib and checks length and CRC-32.
 */
import { crc32, inflateRawSync } from "node:zlib";

import { BadZipError } from "./errors.js";

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
const STORED = 0;
const DEFLATED = 8;

export type ZipEntry = {
  name: string;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
};

function reader(zip: Uint8Array, source: string) {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const need = (offset: number, length: number, what: string) => {
    if (offset < 0 || offset + length > zip.byteLength) {
      throw new BadZipError(source, `truncated: ${what} runs past the end (${zip.byteLength} bytes)`);
    }
  };
  return {
    need,
    u16: (offset: number, what: string) => (need(offset, 2, what), view.getUint16(offset, true)),
    u32: (offset: number, what: string) => (need(offset, 4, what), view.getUint32(offset, true)),
  };
}

/** The entries of the central directory. */
export function listZipEntries(zip: Uint8Array, source: string): ZipEntry[] {
  const { need, u16, u32 } = reader(zip, source);
  if (zip.byteLength < EOCD_SIZE) throw new BadZipError(source, `${zip.byteLength} bytes is too short for a zip`);
  let eocd = -1;
  const lowest = Math.max(0, zip.byteLength - EOCD_SIZE - MAX_COMMENT);
  for (let offset = zip.byteLength - EOCD_SIZE; offset >= lowest; offset--) {
    if (u32(offset, "end record") === EOCD_SIGNATURE) {
      eocd = offset;
      break;
    }
  }
  if (eocd < 0) throw new BadZipError(source, "no end-of-central-directory record (not a zip file)");
  const count = u16(eocd + 10, "entry count");
  const directoryOffset = u32(eocd + 16, "central directory offset");
  if (count === 0xffff || directoryOffset === 0xffffffff) throw new BadZipError(source, "zip64 is not supported");
  const entries: ZipEntry[] = [];
  let offset = directoryOffset;
  for (let i = 0; i < count; i++) {
    if (u32(offset, "central directory entry") !== CENTRAL_SIGNATURE) {
      throw new BadZipError(source, `central directory entry ${i} has a bad signature`);
    }
    const nameLength = u16(offset + 28, "name length");
    const extraLength = u16(offset + 30, "extra length");
    const commentLength = u16(offset + 32, "comment length");
    need(offset + 46, nameLength, "entry name");
    entries.push({
      flags: u16(offset + 8, "flags"),
      method: u16(offset + 10, "method"),
      crc32: u32(offset + 16, "crc-32"),
      compressedSize: u32(offset + 20, "compressed size"),
      size: u32(offset + 24, "size"),
      localHeaderOffset: u32(offset + 42, "local header offset"),
      name: new TextDecoder().decode(zip.subarray(offset + 46, offset + 46 + nameLength)),
    });
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** The uncompressed bytes of one entry, checked against its size and CRC-32. */
export function extractZipEntry(zip: Uint8Array, entry: ZipEntry, source: string): Buffer {
  const { need, u16, u32 } = reader(zip, source);
  if ((entry.flags & 1) !== 0) throw new BadZipError(source, `${entry.name} is encrypted`);
  const local = entry.localHeaderOffset;
  if (u32(local, "local file header") !== LOCAL_SIGNATURE) {
    throw new BadZipError(source, `${entry.name}: bad local file header signature`);
  }
  const dataStart = local + 30 + u16(local + 26, "local name length") + u16(local + 28, "local extra length");
  need(dataStart, entry.compressedSize, `${entry.name} data`);
  const compressed = zip.subarray(dataStart, dataStart + entry.compressedSize);
  let data: Buffer;
  if (entry.method === STORED) {
    data = Buffer.from(compressed);
  } else if (entry.method === DEFLATED) {
    try {
      data = inflateRawSync(compressed);
    } catch (error) {
      throw new BadZipError(source, `${entry.name} does not inflate (${(error as Error).message})`);
    }
  } else {
    throw new BadZipError(
      source,
      `${entry.name} uses compression method ${entry.method}; only stored and deflate are read`,
    );
  }
  if (data.byteLength !== entry.size) {
    throw new BadZipError(
      source,
      `${entry.name} inflates to ${data.byteLength} bytes, the directory says ${entry.size}`,
    );
  }
  const crc = crc32(data);
  if (crc !== entry.crc32) {
    throw new BadZipError(source, `${entry.name} CRC-32 is ${hex(crc)}, the directory says ${hex(entry.crc32)}`);
  }
  return data;
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}

/** The one file of an archive that must hold exactly one (directories aside). */
export function readSingleFileZip(zip: Uint8Array, source: string): { name: string; data: Buffer } {
  const files = listZipEntries(zip, source).filter((entry) => !entry.name.endsWith("/"));
  if (files.length !== 1) {
    const names = files.map((entry) => entry.name).join(", ");
    throw new BadZipError(source, `expected exactly one file, found ${files.length}${names ? `: ${names}` : ""}`);
  }
  return { name: files[0].name, data: extractZipEntry(zip, files[0], source) };
}
