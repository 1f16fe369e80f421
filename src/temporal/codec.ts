// The payload codec: AES-256-GCM, one random 96-bit nonce per payload, the key id in the payload's metadata (and bound
// into the ciphertext as associated data). Payloads are sealed with the current key and opened with any listed key,
// so keys rotate without re-encrypting history: add the new key, make it current, keep the old ones listed.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const enc = new TextEncoder();
const dec = new TextDecoder();

export class PayloadCodecError extends Error {
  override name = 'PayloadCodecError';
}

export interface CodecKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

/** The inner payload, serialised: metadata and data, base64, as JSON (the proto3 JSON form of a Payload). */
export function payloadToJson(p: Payload): { metadata: Record<string, string>; data: string } {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) if (v) metadata[k] = Buffer.from(v).toString('base64');
  return { metadata, data: Buffer.from(p.data ?? new Uint8Array()).toString('base64') };
}

export function payloadFromJson(j: unknown): Payload {
  if (!j || typeof j !== 'object') throw new PayloadCodecError('a payload must be an object { metadata, data }');
  const o = j as { metadata?: unknown; data?: unknown };
  const metadata: Record<string, Uint8Array> = {};
  if (o.metadata !== undefined) {
    if (!o.metadata || typeof o.metadata !== 'object') throw new PayloadCodecError('payload metadata must be an object of base64 strings');
    for (const [k, v] of Object.entries(o.metadata)) {
      if (typeof v !== 'string') throw new PayloadCodecError(`payload metadata ${k} must be a base64 string`);
      metadata[k] = Buffer.from(v, 'base64');
    }
  }
  if (o.data !== undefined && typeof o.data !== 'string') throw new PayloadCodecError('payload data must be a base64 string');
  return { metadata, data: Buffer.from((o.data as string | undefined) ?? '', 'base64') };
}

export class AesGcmPayloadCodec implements PayloadCodec {
  readonly #keys: Map<string, Buffer>;
  readonly #current: CodecKey;

  constructor(keys: CodecKey[], currentKeyId: string) {
    for (const k of keys) {
      if (k.key.length !== 32) throw new PayloadCodecError(`key ${k.id} is ${k.key.length} bytes; AES-256 needs 32`);
    }
    this.#keys = new Map(keys.map((k) => [k.id, k.key]));
    const current = this.#keys.get(currentKeyId);
    if (!current) throw new PayloadCodecError(`the current key id ${currentKeyId} is not among the listed keys`);
    this.#current = { id: currentKeyId, key: current };
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.seal(p));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.open(p));
  }

  seal(p: Payload): Payload {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#current.key, nonce);
    cipher.setAAD(enc.encode(this.#current.id));
    const body = Buffer.concat([cipher.update(JSON.stringify(payloadToJson(p)), 'utf8'), cipher.final()]);
    return {
      metadata: { encoding: enc.encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: enc.encode(this.#current.id) },
      data: Buffer.concat([nonce, body, cipher.getAuthTag()]),
    };
  }

  open(p: Payload): Payload {
    const encoding = p.metadata?.encoding ? dec.decode(p.metadata.encoding) : undefined;
    if (encoding !== ENCRYPTED_ENCODING) return p; // written before the codec was on: leave it as it is
    const idBytes = p.metadata?.[KEY_ID_METADATA];
    const id = idBytes ? dec.decode(idBytes) : '';
    const key = this.#keys.get(id);
    if (!key) throw new PayloadCodecError(`a payload is sealed with key id "${id}", which is not listed in temporal.payloadCodec.keys`);
    const data = Buffer.from(p.data ?? new Uint8Array());
    if (data.length < NONCE_BYTES + TAG_BYTES) throw new PayloadCodecError('a sealed payload is too short to be genuine');
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, NONCE_BYTES));
    decipher.setAAD(enc.encode(id));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let clear: string;
    try {
      clear = Buffer.concat([decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new PayloadCodecError(`a payload sealed with key id "${id}" failed authentication: it was altered or the key is wrong`);
    }
    return payloadFromJson(JSON.parse(clear));
  }
}
