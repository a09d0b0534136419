// Members of a zip archive by name: what a catalog addon takes from a Go module zip (the form the Go
// module proxy serves a module's source in). Reads the central directory, then each member's stored
// or deflated bytes; no zip64, no encryption (a module zip has neither: the proxy caps them at 500 MB).
import { inflateRawSync } from 'node:zlib';
import { ManifestError } from './errors.js';

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

interface Entry {
  method: number;
  compressedSize: number;
  localHeader: number;
}

function centralDirectory(zip: Buffer): Map<string, Entry> {
  // The end record is the last 22 bytes, or earlier by its comment (at most 65535 bytes).
  let end = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === EOCD) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new ManifestError('not a zip archive (no end of central directory)');
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  if (count === 0xffff || at === 0xffffffff) throw new ManifestError('zip64 archives are not read');
  const out = new Map<string, Entry>();
  for (let i = 0; i < count; i++) {
    if (at + 46 > zip.length || zip.readUInt32LE(at) !== CENTRAL) throw new ManifestError(`zip central directory entry ${i} is damaged`);
    const flags = zip.readUInt16LE(at + 8);
    const nameLength = zip.readUInt16LE(at + 28);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    if (flags & 1) throw new ManifestError(`zip member ${name} is encrypted`);
    out.set(name, { method: zip.readUInt16LE(at + 10), compressedSize: zip.readUInt32LE(at + 20), localHeader: zip.readUInt32LE(at + 42) });
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return out;
}

/** The bytes of each named member, in the order asked; a name the archive lacks is an error. Pure. */
export function zipMembers(zip: Buffer, names: readonly string[]): Buffer[] {
  const dir = centralDirectory(zip);
  return names.map((name) => {
    const e = dir.get(name);
    if (!e) throw new ManifestError(`the archive has no member ${name}`);
    if (zip.readUInt32LE(e.localHeader) !== LOCAL) throw new ManifestError(`zip member ${name}: damaged local header`);
    const start = e.localHeader + 30 + zip.readUInt16LE(e.localHeader + 26) + zip.readUInt16LE(e.localHeader + 28);
    const data = zip.subarray(start, start + e.compressedSize);
    if (e.method === 0) return Buffer.from(data);
    if (e.method === 8) return inflateRawSync(data);
    throw new ManifestError(`zip member ${name}: compression method ${e.method} is not read (only stored and deflate)`);
  });
}
