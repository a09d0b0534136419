import { describe, expect, it } from 'vitest';
import { extract } from 'tar-stream';
import type { Header } from 'tar-stream';
import { archiveEntryName, singleFileTar } from '../../src/drivers/docker/archive.js';

async function entries(tar: Buffer): Promise<Array<{ header: Header; body: Buffer }>> {
  const out: Array<{ header: Header; body: Buffer }> = [];
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        out.push({ header, body: Buffer.concat(chunks) });
        next();
      });
      stream.resume();
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(tar);
  await done;
  return out;
}

describe('singleFileTar', () => {
  it('holds exactly one file at its full path relative to /, with mode and root ownership', async () => {
    const tar = await singleFileTar('/etc/kubernetes/pki/ca.key', 'secret\n', 0o600);
    const list = await entries(tar);
    expect(list).toHaveLength(1);
    const [entry] = list;
    expect(entry!.header.name).toBe('etc/kubernetes/pki/ca.key');
    expect(entry!.header.type).toBe('file');
    expect(entry!.header.mode).toBe(0o600);
    expect(entry!.header.uid).toBe(0);
    expect(entry!.header.gid).toBe(0);
    expect(entry!.body.toString()).toBe('secret\n');
  });

  it('keeps binary content byte for byte', async () => {
    const bytes = Buffer.from([0, 1, 2, 255, 254, 10, 0]);
    const [entry] = await entries(await singleFileTar('/x.bin', bytes, 0o755));
    expect(entry!.body.equals(bytes)).toBe(true);
    expect(entry!.header.mode).toBe(0o755);
  });

  it('rejects relative paths, directories and bad modes', async () => {
    expect(() => archiveEntryName('etc/x')).toThrow(/absolute/);
    expect(() => archiveEntryName('/')).toThrow(/file path/);
    expect(() => archiveEntryName('/etc/')).toThrow(/file path/);
    expect(archiveEntryName('/etc/../etc/./x')).toBe('etc/x');
    await expect(singleFileTar('/x', 'a', 0o10000)).rejects.toThrow(/invalid file mode/);
  });
});
