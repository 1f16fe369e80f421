// OpenSSH signatures (SSHSIG, `ssh-keygen -Y sign`; openssh-portable PROTOCOL.sshsig), verified in pure JS so the
// workflow sandbox can check a person's signature deterministically, with no Node built-ins.
//
// Supported keys: ssh-ed25519, ecdsa-sha2-nistp256 and the FIDO variants sk-ssh-ed25519@openssh.com and
// sk-ecdsa-sha2-nistp256@openssh.com (hardware keys; user presence required). RSA needs node:crypto, which the
// sandbox does not have: an RSA key is refused with a clear message, both at enrolment and at verification.
import { ed25519 } from '@noble/curves/ed25519';
import { p256 } from '@noble/curves/p256';
import { sha256, sha512 } from '@noble/hashes/sha2';
import { utf8ToBytes } from '@noble/hashes/utils';

/** Steward's own SSHSIG namespaces: a signature made for git, e-mail or another tool never counts here. */
export const ACTION_NAMESPACE = 'steward-action@steward.bank';
export const CHECKPOINT_NAMESPACE = 'steward-audit-checkpoint@steward.bank';

export const SUPPORTED_KEY_TYPES = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
] as const;

export class SshSigError extends Error {
  override name = 'SshSigError';
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX: Record<string, number> = Object.fromEntries([...B64].map((c, i) => [c, i]));

export function base64ToBytes(text: string): Uint8Array {
  const clean = text.replace(/[\r\n\t ]/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 !== 0) throw new SshSigError('not valid base64');
  const body = clean.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (const c of body) {
    acc = (acc << 6) | B64_INDEX[c]!;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

export function bytesToBase64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i]!;
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    out += B64[a >> 2]! + B64[((a & 3) << 4) | ((b ?? 0) >> 4)]!;
    out += b === undefined ? '=' : B64[((b & 15) << 2) | ((c ?? 0) >> 6)]!;
    out += c === undefined ? '=' : B64[c & 63]!;
  }
  return out;
}

class Reader {
  private o = 0;
  constructor(private readonly b: Uint8Array) {}
  u8(): number {
    if (this.o + 1 > this.b.length) throw new SshSigError('truncated signature');
    return this.b[this.o++]!;
  }
  u32(): number {
    if (this.o + 4 > this.b.length) throw new SshSigError('truncated signature');
    const v = ((this.b[this.o]! << 24) | (this.b[this.o + 1]! << 16) | (this.b[this.o + 2]! << 8) | this.b[this.o + 3]!) >>> 0;
    this.o += 4;
    return v;
  }
  bytes(n: number): Uint8Array {
    if (n > this.b.length - this.o) throw new SshSigError('truncated signature');
    const v = this.b.slice(this.o, this.o + n);
    this.o += n;
    return v;
  }
  string(): Uint8Array {
    return this.bytes(this.u32());
  }
  text(): string {
    return new TextDecoderLite().decode(this.string());
  }
  done(): boolean {
    return this.o === this.b.length;
  }
}

/** The names inside an SSH blob (key types, curves, namespaces) are ASCII; no TextDecoder needed in the sandbox. */
class TextDecoderLite {
  decode(b: Uint8Array): string {
    let s = '';
    for (const x of b) s += String.fromCharCode(x);
    return s;
  }
}

function sshString(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + b.length);
  out[0] = (b.length >>> 24) & 0xff;
  out[1] = (b.length >>> 16) & 0xff;
  out[2] = (b.length >>> 8) & 0xff;
  out[3] = b.length & 0xff;
  out.set(b, 4);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export interface ParsedSignature {
  /** The signer's public key as "<type> <base64>", exactly as in an authorized_keys or allowed_signers line. */
  publicKey: string;
  keyType: string;
  namespace: string;
  hashAlgorithm: 'sha256' | 'sha512';
  publicKeyBlob: Uint8Array;
  signatureBlob: Uint8Array;
}

const ARMOR_BEGIN = '-----BEGIN SSH SIGNATURE-----';
const ARMOR_END = '-----END SSH SIGNATURE-----';

/** Parses an armored SSHSIG (what `ssh-keygen -Y sign` writes to FILE.sig). */
export function parseSshSignature(armored: string): ParsedSignature {
  if (typeof armored !== 'string' || armored.length > 16_384) throw new SshSigError('the signature must be the text of an SSH signature file');
  const text = armored.trim();
  if (!text.startsWith(ARMOR_BEGIN) || !text.endsWith(ARMOR_END)) throw new SshSigError(`the signature must start with "${ARMOR_BEGIN}" (the output of ssh-keygen -Y sign)`);
  const blob = base64ToBytes(text.slice(ARMOR_BEGIN.length, text.length - ARMOR_END.length));
  const r = new Reader(blob);
  const magic = new TextDecoderLite().decode(r.bytes(6));
  if (magic !== 'SSHSIG') throw new SshSigError('not an SSHSIG signature');
  const version = r.u32();
  if (version !== 1) throw new SshSigError(`unsupported SSHSIG version ${version}`);
  const publicKeyBlob = r.string();
  const namespace = r.text();
  r.string(); // reserved
  const hashAlgorithm = r.text();
  if (hashAlgorithm !== 'sha512' && hashAlgorithm !== 'sha256') throw new SshSigError(`unsupported hash algorithm ${hashAlgorithm}`);
  const signatureBlob = r.string();
  if (!r.done()) throw new SshSigError('trailing data after the signature');
  const keyType = new TextDecoderLite().decode(new Reader(publicKeyBlob).string());
  return { publicKey: `${keyType} ${bytesToBase64(publicKeyBlob)}`, keyType, namespace, hashAlgorithm, publicKeyBlob, signatureBlob };
}

/** "<type> <base64> [comment]" → "<type> <base64>"; refuses what Steward cannot verify, saying why. */
export function normalisePublicKey(line: string): string {
  const parts = line.trim().split(/\s+/);
  const [type, b64] = parts;
  if (!type || !b64) throw new SshSigError('a public key is "<type> <base64> [comment]", e.g. the contents of id_ed25519.pub');
  if (type === 'ssh-rsa' || type.startsWith('rsa-')) {
    throw new SshSigError('RSA keys cannot be verified inside the workflow sandbox; enrol an ed25519 or ECDSA P-256 key (ssh-keygen -t ed25519)');
  }
  if (!(SUPPORTED_KEY_TYPES as readonly string[]).includes(type)) throw new SshSigError(`key type ${type} is not supported; use one of ${SUPPORTED_KEY_TYPES.join(', ')}`);
  const blob = base64ToBytes(b64);
  const inner = new TextDecoderLite().decode(new Reader(blob).string());
  if (inner !== type) throw new SshSigError(`the key says it is ${type} but its data is ${inner}`);
  return `${type} ${bytesToBase64(blob)}`;
}

function mpintToFixed(b: Uint8Array, size: number): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = b.slice(i);
  if (v.length > size) throw new SshSigError('malformed ECDSA signature');
  const out = new Uint8Array(size);
  out.set(v, size - v.length);
  return out;
}

function verifyEcdsaP256(pub: Reader, rawSig: Uint8Array, data: Uint8Array): boolean {
  const curve = new TextDecoderLite().decode(pub.string());
  if (curve !== 'nistp256') throw new SshSigError(`unsupported curve ${curve}`);
  const q = pub.string();
  const sr = new Reader(rawSig);
  const r = mpintToFixed(sr.string(), 32);
  const s = mpintToFixed(sr.string(), 32);
  return p256.verify(concat(r, s), sha256(data), q, { prehash: false, lowS: false });
}

/**
 * True when `signature` is a valid SSHSIG by its embedded key over `message` in `namespace`. The caller decides
 * whether that key belongs to anyone (see statement.ts): this only proves the key's holder signed these bytes.
 */
export function verifySshSignature(sig: ParsedSignature, message: string, namespace: string): boolean {
  if (sig.namespace !== namespace) return false;
  const h = sig.hashAlgorithm === 'sha512' ? sha512(utf8ToBytes(message)) : sha256(utf8ToBytes(message));
  const signed = concat(
    utf8ToBytes('SSHSIG'),
    sshString(utf8ToBytes(namespace)),
    sshString(new Uint8Array(0)),
    sshString(utf8ToBytes(sig.hashAlgorithm)),
    sshString(h),
  );
  const pub = new Reader(sig.publicKeyBlob);
  const type = new TextDecoderLite().decode(pub.string());
  const sr = new Reader(sig.signatureBlob);
  const sigType = new TextDecoderLite().decode(sr.string());
  const raw = sr.string();
  try {
    switch (type) {
      case 'ssh-ed25519':
        if (sigType !== 'ssh-ed25519' || !sr.done()) return false;
        return ed25519.verify(raw, signed, pub.string());
      case 'ecdsa-sha2-nistp256':
        if (sigType !== type || !sr.done()) return false;
        return verifyEcdsaP256(pub, raw, signed);
      case 'sk-ssh-ed25519@openssh.com':
      case 'sk-ecdsa-sha2-nistp256@openssh.com': {
        if (sigType !== type) return false;
        const flags = sr.u8();
        const counter = sr.bytes(4);
        if (!sr.done()) return false;
        if ((flags & 0x01) === 0) return false; // user presence is required for a human action
        const key = type === 'sk-ssh-ed25519@openssh.com' ? pub.string() : undefined;
        if (type === 'sk-ecdsa-sha2-nistp256@openssh.com') {
          // ecdsa: curve name, Q, application
          const curve = new TextDecoderLite().decode(pub.string());
          if (curve !== 'nistp256') return false;
          const q = pub.string();
          const app = pub.string();
          const data = concat(sha256(app), new Uint8Array([flags]), counter, sha256(signed));
          const rr = new Reader(raw);
          return p256.verify(concat(mpintToFixed(rr.string(), 32), mpintToFixed(rr.string(), 32)), sha256(data), q, { prehash: false, lowS: false });
        }
        const app = pub.string();
        const data = concat(sha256(app), new Uint8Array([flags]), counter, sha256(signed));
        return ed25519.verify(raw, data, key!);
      }
      default:
        return false;
    }
  } catch {
    return false;
  }
}
