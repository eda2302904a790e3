/**
 * `encrypt`: AES-CBC with PKCS7 padding; the value becomes base64(IV ‖ ciphertext). The IV is an
 * HMAC of the node's identity (job seed, resource, location) rather than random, so a page written
 * twice holds the same bytes; it still differs from node to node and job to job.
 */
import { createCipheriv, createHmac } from 'node:crypto';
import { readValue, writeValue } from '../nodes';
import { nodeIdentity, type NodeMethod } from './method';

const IV_BYTES = 16;

export function encryptValue(key: Buffer, identity: string, plaintext: string): string {
  const iv = createHmac('sha256', key).update(identity, 'utf8').digest().subarray(0, IV_BYTES);
  const cipher = createCipheriv(`aes-${key.length * 8}-cbc`, key, iv);
  return Buffer.concat([iv, cipher.update(plaintext, 'utf8'), cipher.final()]).toString('base64');
}

export function encryptMethod(key: string): NodeMethod {
  const keyBytes = Buffer.from(key, 'utf8');
  return {
    wholeSubtree: false,
    apply(element, context) {
      const value = readValue(element);
      if (typeof value !== 'string') return undefined;
      writeValue(element, encryptValue(keyBytes, nodeIdentity(element, context), value));
      return 'MASKED';
    },
  };
}
