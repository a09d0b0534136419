// ed25519 key pairs in OpenSSH's formats, for keys mk makes itself (the qemu driver's host and
// client keys). ssh2's generator drops a leading zero byte of the public key (about 1 key in 128):
// such a key has a 31-byte public part that OpenSSH rejects, so it is made again.
import ssh2 from 'ssh2';

export interface KeyPair {
  /** OpenSSH private key file content. */
  private: string;
  /** "ssh-ed25519 AAAA... comment" */
  public: string;
  /** The public key's wire form (what fingerprints are taken of). */
  blob: Buffer;
}

/** ssh-ed25519's public blob: two length-prefixed strings, the type (11 bytes) and the 32-byte key. */
const ED25519_BLOB_BYTES = 4 + 11 + 4 + 32;

export function ed25519KeyPair(comment: string): KeyPair {
  for (;;) {
    const k = ssh2.utils.generateKeyPairSync('ed25519', { comment });
    const blob = Buffer.from(k.public.split(' ')[1] ?? '', 'base64');
    if (blob.length === ED25519_BLOB_BYTES) return { private: k.private, public: k.public, blob };
  }
}
