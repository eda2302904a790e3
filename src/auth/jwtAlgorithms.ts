/**
 * The JWS algorithms a bearer token may be signed with: what each one hashes, which key type and
 * size it needs, and how its signature is checked. Asymmetric algorithms only, so that a public
 * key can never be used as an HMAC secret.
 */
import { verify as verifySignature, constants, KeyObject } from 'node:crypto';

export const SUPPORTED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384'] as const;
export type JwtAlgorithm = (typeof SUPPORTED_ALGORITHMS)[number];

const MIN_RSA_BITS = 2048;

export interface AlgorithmSpec {
  hash: 'sha256' | 'sha384' | 'sha512';
  kind: 'rsa' | 'rsa-pss' | 'ec';
  /** EC only: the curve (JWK `crv`) and the raw r||s signature length. */
  curve?: 'P-256' | 'P-384';
  signatureLength?: number;
}

export const ALGORITHMS: Record<JwtAlgorithm, AlgorithmSpec> = {
  RS256: { hash: 'sha256', kind: 'rsa' },
  RS384: { hash: 'sha384', kind: 'rsa' },
  RS512: { hash: 'sha512', kind: 'rsa' },
  PS256: { hash: 'sha256', kind: 'rsa-pss' },
  ES256: { hash: 'sha256', kind: 'ec', curve: 'P-256', signatureLength: 64 },
  ES384: { hash: 'sha384', kind: 'ec', curve: 'P-384', signatureLength: 96 },
};

export function isSupportedAlgorithm(alg: unknown): alg is JwtAlgorithm {
  return typeof alg === 'string' && Object.prototype.hasOwnProperty.call(ALGORITHMS, alg);
}

/** Whether `key` is of the type (and RSA size or EC curve) that `alg` needs. */
export function keySuits(key: KeyObject, alg: JwtAlgorithm): boolean {
  const spec = ALGORITHMS[alg];
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (spec.kind === 'ec') {
    const curve = spec.curve === 'P-256' ? 'prime256v1' : 'secp384r1';
    return type === 'ec' && details.namedCurve === curve;
  }
  return type === 'rsa' && (details.modulusLength ?? 0) >= MIN_RSA_BITS;
}

export function checkSignature(
  spec: AlgorithmSpec,
  key: KeyObject,
  signed: Buffer,
  signature: Buffer,
): boolean {
  try {
    if (spec.kind === 'ec') {
      return verifySignature(spec.hash, signed, { key, dsaEncoding: 'ieee-p1363' }, signature);
    }
    if (spec.kind === 'rsa-pss') {
      const options = {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      };
      return verifySignature(spec.hash, signed, options, signature);
    }
    return verifySignature(spec.hash, signed, key, signature);
  } catch {
    // A signature that does not even parse for this key type is simply not a match.
    return false;
  }
}
