/**
 * `cryptoHash`: HMAC-SHA256 with the job's key, as lowercase hex. In a reference only the id is
 * hashed, so references still point at the (equally hashed) ids of the resources they name.
 */
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { isResourceTypeName } from '../fhirpath';
import { readValue, writeValue } from '../nodes';
import type { NodeMethod } from './method';

export function hmacHex(key: string | KeyObject, value: string): string {
  return createHmac('sha256', key).update(value, 'utf8').digest('hex');
}

/** Ids recur across a job's resources (every reference to a patient); this many hashes are remembered. */
const REMEMBERED_HASHES = 10_000;

const LITERAL_REFERENCE =
  /^((?:https?:\/\/[^?#]*\/)?)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/[A-Za-z0-9\-.]{1,64})?$/;
const URN = /^(urn:(?:uuid|oid):)(.+)$/;

/** Hashes the id part of `#id`, `[url/]Type/id[/_history/v]`, `urn:uuid:` and `urn:oid:`; others whole. */
export function hashReference(reference: string, hash: (value: string) => string): string {
  if (reference.startsWith('#') && reference.length > 1) return `#${hash(reference.slice(1))}`;
  const urn = URN.exec(reference);
  if (urn) return urn[1] + hash(urn[2]);
  const literal = LITERAL_REFERENCE.exec(reference);
  if (literal && isResourceTypeName(literal[2])) {
    const [, base, type, id, history = ''] = literal;
    return `${base}${type}/${hash(id)}${history}`;
  }
  return hash(reference);
}

export function cryptoHashMethod(key: string): NodeMethod {
  // An empty key is allowed and a KeyObject cannot be empty, so only a real key is prepared once.
  const secret = key === '' ? key : createSecretKey(Buffer.from(key, 'utf8'));
  const remembered = new Map<string, string>();
  const hash = (value: string): string => {
    let digest = remembered.get(value);
    if (digest === undefined) {
      digest = hmacHex(secret, value);
      if (remembered.size >= REMEMBERED_HASHES) remembered.clear();
      remembered.set(value, digest);
    }
    return digest;
  };
  return {
    wholeSubtree: false,
    apply(element) {
      const value = readValue(element);
      // Numbers and booleans stay: a hex string would not be a valid value of their type.
      if (typeof value !== 'string') return undefined;
      const isReference = element.key === 'reference' && element.parent?.type === 'Reference';
      writeValue(element, isReference ? hashReference(value, hash) : hash(value));
      return 'CRYTOHASH';
    },
  };
}
