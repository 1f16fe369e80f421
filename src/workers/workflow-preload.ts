// Loaded once per worker into the workflow sandbox, before any workflow, and shared by every cached workflow
// (the SDK's `preloadModules`): the libraries the workflow code imports — zod, yaml, @noble/curves and
// @noble/hashes (the trust model's signature checks) — which are most of a cached workflow's memory when each
// workflow evaluates them again (bench/open-changes.ts, README "Performance").
//
// The SDK deep-freezes what it shares, so a shared module must never write to its own objects after this point.
// zod does, lazily: its global config gets the default locale and memoizer at the first schema built, and whether
// `new Function` may be used (`allowsEval`) is computed at the first object schema; noble computes the base
// points' multiplication tables at the first signature. So this module does each of those once, here, while the
// modules can still be written. Schema objects are NOT shared: src/domain (whose schemas are built at module scope,
// and which zod extends lazily at their first parse) is evaluated per workflow, so a frozen schema never parses.
// test/workflows/preload.test.ts runs proposal parsing and both signature checks in workflows on a preloaded bundle.
import { z } from 'zod';
import 'yaml';
import { ed25519 } from '@noble/curves/ed25519';
import { p256 } from '@noble/curves/p256';
import { sha256, sha512 } from '@noble/hashes/sha2';
import { utf8ToBytes } from '@noble/hashes/utils';

const warmUp = z
  .strictObject({
    text: z.string().max(8).regex(/^[a-z]+$/),
    choice: z.enum(['a', 'b']),
    flag: z.boolean(),
    count: z.number().int().min(0),
    list: z.array(z.string()).min(1).optional(),
    nested: z.object({ at: z.string() }).optional(),
    either: z.union([z.literal('x'), z.null()]).optional(),
  })
  .superRefine(() => undefined);
warmUp.safeParse({ text: 'ok', choice: 'a', flag: true, count: 1, list: ['x'], nested: { at: 'y' }, either: null });
warmUp.safeParse({ text: 1, choice: 'c', extra: true });

// Fixed keys (no randomness in the sandbox), signed and checked once: the curves' tables are built now.
const message = utf8ToBytes('steward workflow preload');
const edKey = sha256(utf8ToBytes('steward preload ed25519'));
if (!ed25519.verify(ed25519.sign(message, edKey), message, ed25519.getPublicKey(edKey))) throw new Error('preload: ed25519 self-check failed');
const pKey = sha256(utf8ToBytes('steward preload p256'));
const digest = sha256(message);
if (!p256.verify(p256.sign(digest, pKey, { prehash: false }).toCompactRawBytes(), digest, p256.getPublicKey(pKey), { prehash: false, lowS: false })) {
  throw new Error('preload: p256 self-check failed');
}
sha512(message);
