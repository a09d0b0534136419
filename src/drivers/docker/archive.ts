// A one-file tar archive for Docker's putArchive: the file at its full path relative to "/",
// with the requested mode, owned by root. No directory entries, so existing parents keep their
// modes; Docker creates missing parents. tar-stream loads on the first file written: a run that
// writes none (a no-op apply) does without it.
import { posix } from 'node:path';
import { DriverError } from '../../errors.js';

/** "/etc/kubernetes/admin.conf" -> "etc/kubernetes/admin.conf"; rejects relative and escaping paths. */
export function archiveEntryName(path: string): string {
  if (!path.startsWith('/')) throw new DriverError(`writeFile needs an absolute path, got "${path}"`);
  const normalized = posix.normalize(path);
  if (normalized === '/' || normalized.endsWith('/')) throw new DriverError(`writeFile needs a file path, got "${path}"`);
  return normalized.slice(1);
}

export async function singleFileTar(path: string, content: string | Buffer, mode: number, mtime = new Date()): Promise<Buffer> {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new DriverError(`invalid file mode ${mode} for ${path}`);
  const name = archiveEntryName(path);
  const body = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  const { pack } = await import('tar-stream');
  const archive = pack();
  const chunks: Buffer[] = [];
  archive.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    archive.on('end', resolve);
    archive.on('error', reject);
  });
  archive.entry({ name, type: 'file', mode, size: body.length, mtime, uid: 0, gid: 0 }, body);
  archive.finalize();
  await done;
  return Buffer.concat(chunks);
}
