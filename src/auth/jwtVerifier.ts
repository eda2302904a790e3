/**
 * Verification of bearer JWTs (JWS compact serialization) against a remote JSON Web Key Set.
 *
 * Order of checks, cheapest and most hostile first, so that junk never causes a key fetch:
 *   1. shape: three non-empty base64url segments, a size limit, JSON header and payload objects;
 *   2. header: `alg` on the allow-list (asymmetric algorithms only), no `crit` extensions;
 *   3. claims: issuer, audience, `exp` (required), `nbf`, `iat`, with a small clock skew;
 *   4. key: looked up by `kid` in the cached JWKS (refetched when stale, or once, rate-limited,
 *      for an unknown `kid` so that key rotation works) and checked to suit `alg`;
 *   5. signature.
 * Header members that point at keys (`jku`, `x5u`, `jwk`, `x5c`) are ignored: keys come only from
 * the configured JWKS URI.
 */
import { createPublicKey, verify as verifySignature, constants, KeyObject } from 'node:crypto';
import { AuthenticationUnavailableError, UnauthorizedError } from './errors';
import { readBodyText } from '../http/readBody';

export const SUPPORTED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384'] as const;
export type JwtAlgorithm = (typeof SUPPORTED_ALGORITHMS)[number];

export interface JwtHeader {
  alg: JwtAlgorithm;
  kid?: string;
  typ?: string;
  [name: string]: unknown;
}

/** Registered claims that are checked, plus whatever else the token carries. */
export interface JwtClaims {
  iss: string;
  aud: string | string[];
  exp: number;
  nbf?: number;
  iat?: number;
  sub?: string;
  [name: string]: unknown;
}

export interface VerifiedJwt {
  header: JwtHeader;
  claims: JwtClaims;
}

/** Fetches and parses a JWKS document. Injectable for tests; the default uses global `fetch`. */
export type JwksFetcher = (uri: string) => Promise<unknown>;

export interface JwtVerifierOptions {
  /** Accepted issuer(s); `iss` must equal one exactly. */
  issuer: string | readonly string[];
  /** Accepted audience(s); `aud` (string or array) must contain one. */
  audience: string | readonly string[];
  /** Where the signing keys are published. */
  jwksUri: string;
  /** Tolerance for `exp`, `nbf` and `iat`, in seconds. Default 60. */
  clockSkewSeconds?: number;
  /** Algorithms to accept, a subset of SUPPORTED_ALGORITHMS. Default: all of them. */
  algorithms?: readonly JwtAlgorithm[];
  /** Current time in epoch milliseconds. Default `Date.now`. */
  now?: () => number;
  /** How long a fetched key set is used before it is fetched again. Default 10 minutes. */
  jwksCacheTtlMs?: number;
  /** Minimum time between two fetches caused by unknown `kid`s. Default 30 seconds. */
  jwksMinRefetchIntervalMs?: number;
  /** Time to wait before trying again after a failed fetch. Default 5 seconds. */
  jwksFailureBackoffMs?: number;
  /** Timeout of one JWKS request (default fetcher only). Default 5 seconds. */
  jwksTimeoutMs?: number;
  /** Replaces the HTTP fetch of the key set. */
  fetchJwks?: JwksFetcher;
}

/** Tokens longer than this are refused unread (Entra tokens are a few KB). */
const MAX_TOKEN_LENGTH = 16 * 1024;
/** JWKS documents larger than this are refused. */
const MAX_JWKS_BYTES = 512 * 1024;
const MIN_RSA_BITS = 2048;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

interface AlgorithmSpec {
  hash: 'sha256' | 'sha384' | 'sha512';
  kind: 'rsa' | 'rsa-pss' | 'ec';
  /** EC only: the curve (JWK `crv`) and the raw r||s signature length. */
  curve?: 'P-256' | 'P-384';
  signatureLength?: number;
}

const ALGORITHMS: Record<JwtAlgorithm, AlgorithmSpec> = {
  RS256: { hash: 'sha256', kind: 'rsa' },
  RS384: { hash: 'sha384', kind: 'rsa' },
  RS512: { hash: 'sha512', kind: 'rsa' },
  PS256: { hash: 'sha256', kind: 'rsa-pss' },
  ES256: { hash: 'sha256', kind: 'ec', curve: 'P-256', signatureLength: 64 },
  ES384: { hash: 'sha384', kind: 'ec', curve: 'P-384', signatureLength: 96 },
};

function isSupportedAlgorithm(alg: unknown): alg is JwtAlgorithm {
  return typeof alg === 'string' && Object.prototype.hasOwnProperty.call(ALGORITHMS, alg);
}

function toList(value: string | readonly string[]): string[] {
  return (typeof value === 'string' ? [value] : [...value]).filter((v) => v.length > 0);
}

function decodeJsonSegment(segment: string, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new UnauthorizedError(`The token ${what} is not valid JSON.`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new UnauthorizedError(`The token ${what} is not a JSON object.`);
  }
  return parsed as Record<string, unknown>;
}

function numericClaim(claims: Record<string, unknown>, name: string, required: boolean): number | undefined {
  const value = claims[name];
  if (value === undefined) {
    if (required) throw new UnauthorizedError(`The token has no '${name}' claim.`);
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new UnauthorizedError(`The token's '${name}' claim is not a number.`);
  }
  return value;
}

/** One usable key of the key set. */
interface CachedKey {
  kid?: string;
  /** The JWK's own `alg`, when it names one; then only that algorithm may use the key. */
  alg?: string;
  key: KeyObject;
}

/** Builds a public key from a JWK, keeping only the public members; undefined when unusable. */
function importJwk(jwk: unknown): CachedKey | undefined {
  if (jwk === null || typeof jwk !== 'object') return undefined;
  const j = jwk as Record<string, unknown>;
  if (j.use !== undefined && j.use !== 'sig') return undefined;
  if (Array.isArray(j.key_ops) && !j.key_ops.includes('verify')) return undefined;
  let publicJwk: Record<string, string>;
  if (j.kty === 'RSA' && typeof j.n === 'string' && typeof j.e === 'string') {
    publicJwk = { kty: 'RSA', n: j.n, e: j.e };
  } else if (
    j.kty === 'EC' &&
    (j.crv === 'P-256' || j.crv === 'P-384') &&
    typeof j.x === 'string' &&
    typeof j.y === 'string'
  ) {
    publicJwk = { kty: 'EC', crv: j.crv, x: j.x, y: j.y };
  } else {
    return undefined;
  }
  try {
    const key = createPublicKey({ key: publicJwk, format: 'jwk' });
    return {
      key,
      kid: typeof j.kid === 'string' ? j.kid : undefined,
      alg: typeof j.alg === 'string' ? j.alg : undefined,
    };
  } catch {
    return undefined;
  }
}

function checkSignature(spec: AlgorithmSpec, key: KeyObject, signed: Buffer, signature: Buffer): boolean {
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

/** Whether `key` may verify signatures made with `alg`. */
function keySuits(entry: CachedKey, alg: JwtAlgorithm): boolean {
  if (entry.alg !== undefined && entry.alg !== alg) return false;
  const spec = ALGORITHMS[alg];
  const type = entry.key.asymmetricKeyType;
  const details = entry.key.asymmetricKeyDetails ?? {};
  if (spec.kind === 'ec') {
    const curve = spec.curve === 'P-256' ? 'prime256v1' : 'secp384r1';
    return type === 'ec' && details.namedCurve === curve;
  }
  return type === 'rsa' && (details.modulusLength ?? 0) >= MIN_RSA_BITS;
}

async function defaultFetchJwks(uri: string, timeoutMs: number): Promise<unknown> {
  const response = await fetch(uri, {
    headers: { accept: 'application/json' },
    redirect: 'error',
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!response.ok) throw new Error(`JWKS endpoint answered ${response.status}`);
  // Bounded while reading (any failure here counts as a failed key refresh).
  const text = await readBodyText(response, MAX_JWKS_BYTES);
  return JSON.parse(text);
}

/**
 * The key set of one JWKS URI: fetched on first use, reused for `ttlMs`, refetched early (at
 * most once per `minRefetchIntervalMs`) when a token names a `kid` it does not know. Concurrent
 * callers share one fetch. When a refresh fails the previous keys stay in use.
 */
export class JwksCache {
  private keys: CachedKey[] | undefined;
  private fetchedAt = -Infinity;
  private lastAttemptAt = -Infinity;
  private lastAttemptFailed = false;
  private inflight: Promise<void> | undefined;
  private fetchCount = 0;

  constructor(
    private readonly uri: string,
    private readonly fetcher: JwksFetcher,
    private readonly now: () => number,
    private readonly ttlMs: number,
    private readonly minRefetchIntervalMs: number,
    private readonly failureBackoffMs: number,
  ) {}

  /** Number of fetches started so far (for tests and telemetry). */
  get fetches(): number {
    return this.fetchCount;
  }

  /** Keys that may verify a token with this `kid` (or without one) and `alg`. */
  async keysFor(kid: string | undefined, alg: JwtAlgorithm): Promise<CachedKey[]> {
    const now = this.now();
    if (this.keys === undefined || now - this.fetchedAt >= this.ttlMs) {
      await this.refresh(now, this.failureBackoffMs);
    }
    let found = this.match(kid, alg);
    if (found.length === 0 && kid !== undefined && this.keys !== undefined && !this.knows(kid)) {
      // A kid we have never seen: the provider may have rotated its keys since our last fetch.
      await this.refresh(now, this.minRefetchIntervalMs);
      found = this.match(kid, alg);
    }
    if (this.keys === undefined) {
      throw new AuthenticationUnavailableError(
        'The signing keys of the identity provider cannot be loaded right now.',
        Math.max(1, Math.ceil(this.failureBackoffMs / 1000)),
      );
    }
    return found;
  }

  private knows(kid: string): boolean {
    return (this.keys ?? []).some((k) => k.kid === kid);
  }

  private match(kid: string | undefined, alg: JwtAlgorithm): CachedKey[] {
    const keys = this.keys ?? [];
    const candidates = kid === undefined ? keys : keys.filter((k) => k.kid === kid);
    return candidates.filter((k) => keySuits(k, alg));
  }

  /** Fetches unless the last attempt was less than `minGapMs` ago (shared when one is running). */
  private async refresh(now: number, minGapMs: number): Promise<void> {
    if (this.inflight) return this.inflight;
    const gap = this.lastAttemptFailed ? Math.max(minGapMs, this.failureBackoffMs) : minGapMs;
    if (now - this.lastAttemptAt < gap) return;
    this.lastAttemptAt = now;
    this.fetchCount += 1;
    this.inflight = (async () => {
      try {
        const document = await this.fetcher(this.uri);
        const raw = (document as { keys?: unknown } | null)?.keys;
        if (!Array.isArray(raw)) throw new Error('JWKS document has no keys array');
        this.keys = raw.map(importJwk).filter((k): k is CachedKey => k !== undefined);
        this.fetchedAt = this.now();
        this.lastAttemptFailed = false;
      } catch {
        // Keep the previous keys, if any; the caller decides what a missing key means.
        this.lastAttemptFailed = true;
      } finally {
        this.inflight = undefined;
      }
    })();
    return this.inflight;
  }
}

/** Verifies bearer tokens for one issuer/audience/JWKS configuration. Safe to share. */
export class JwtVerifier {
  private readonly issuers: string[];
  private readonly audiences: string[];
  private readonly skewSeconds: number;
  private readonly algorithms: ReadonlySet<JwtAlgorithm>;
  private readonly now: () => number;
  readonly jwks: JwksCache;

  constructor(options: JwtVerifierOptions) {
    this.issuers = toList(options.issuer);
    this.audiences = toList(options.audience);
    if (this.issuers.length === 0) throw new Error('JwtVerifier needs at least one issuer');
    if (this.audiences.length === 0) throw new Error('JwtVerifier needs at least one audience');
    if (!options.jwksUri) throw new Error('JwtVerifier needs a JWKS URI');
    this.skewSeconds = options.clockSkewSeconds ?? 60;
    if (!(this.skewSeconds >= 0)) throw new Error('clockSkewSeconds must be a non-negative number');
    const algorithms = options.algorithms ?? SUPPORTED_ALGORITHMS;
    for (const alg of algorithms) {
      if (!isSupportedAlgorithm(alg)) throw new Error(`Unsupported JWT algorithm: ${String(alg)}`);
    }
    this.algorithms = new Set(algorithms);
    this.now = options.now ?? Date.now;
    const timeoutMs = options.jwksTimeoutMs ?? 5000;
    this.jwks = new JwksCache(
      options.jwksUri,
      options.fetchJwks ?? ((uri) => defaultFetchJwks(uri, timeoutMs)),
      this.now,
      options.jwksCacheTtlMs ?? 10 * 60 * 1000,
      options.jwksMinRefetchIntervalMs ?? 30 * 1000,
      options.jwksFailureBackoffMs ?? 5 * 1000,
    );
  }

  /**
   * Returns the verified header and claims, or throws UnauthorizedError (bad token) or
   * AuthenticationUnavailableError (keys cannot be loaded).
   */
  async verify(token: string): Promise<VerifiedJwt> {
    if (typeof token !== 'string' || token.length === 0) {
      throw new UnauthorizedError('The bearer token is empty.');
    }
    if (token.length > MAX_TOKEN_LENGTH) throw new UnauthorizedError('The bearer token is too long.');
    const segments = token.split('.');
    if (segments.length !== 3) {
      throw new UnauthorizedError('The bearer token is not a signed JWT (expected three segments).');
    }
    const [headerPart, payloadPart, signaturePart] = segments;
    if (!BASE64URL.test(headerPart) || !BASE64URL.test(payloadPart)) {
      throw new UnauthorizedError('The bearer token is not a well-formed JWT.');
    }
    if (!BASE64URL.test(signaturePart)) {
      throw new UnauthorizedError('The bearer token is not signed.');
    }

    const header = this.checkHeader(decodeJsonSegment(headerPart, 'header'));
    const claims = this.checkClaims(decodeJsonSegment(payloadPart, 'payload'));

    const spec = ALGORITHMS[header.alg];
    const signature = Buffer.from(signaturePart, 'base64url');
    if (spec.signatureLength !== undefined && signature.length !== spec.signatureLength) {
      throw new UnauthorizedError('The token signature is invalid.');
    }

    const keys = await this.jwks.keysFor(header.kid, header.alg);
    if (keys.length === 0) {
      throw new UnauthorizedError(
        'The token is signed with a key that is not known or does not suit its alg.',
      );
    }
    const signed = Buffer.from(`${headerPart}.${payloadPart}`, 'ascii');
    const valid = keys.some((k) => checkSignature(spec, k.key, signed, signature));
    if (!valid) throw new UnauthorizedError('The token signature is invalid.');
    return { header, claims };
  }

  private checkHeader(header: Record<string, unknown>): JwtHeader {
    const alg = header.alg;
    if (typeof alg !== 'string' || alg.length === 0) {
      throw new UnauthorizedError('The token header has no algorithm.');
    }
    if (!isSupportedAlgorithm(alg) || !this.algorithms.has(alg)) {
      throw new UnauthorizedError(`The token algorithm '${alg.slice(0, 20)}' is not accepted.`);
    }
    if (header.crit !== undefined) {
      throw new UnauthorizedError('The token header has critical extensions that are not supported.');
    }
    if (header.kid !== undefined && typeof header.kid !== 'string') {
      throw new UnauthorizedError('The token header has an invalid kid.');
    }
    return header as JwtHeader;
  }

  private checkClaims(claims: Record<string, unknown>): JwtClaims {
    if (typeof claims.iss !== 'string' || !this.issuers.includes(claims.iss)) {
      throw new UnauthorizedError('The token issuer is not accepted.');
    }
    const aud = claims.aud;
    const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
    if (!audiences.some((a) => typeof a === 'string' && this.audiences.includes(a))) {
      throw new UnauthorizedError('The token audience is not accepted.');
    }
    const nowSeconds = this.now() / 1000;
    const exp = numericClaim(claims, 'exp', true) as number;
    const nbf = numericClaim(claims, 'nbf', false);
    const iat = numericClaim(claims, 'iat', false);
    if (nowSeconds >= exp + this.skewSeconds) throw new UnauthorizedError('The token has expired.');
    if (nbf !== undefined && nowSeconds + this.skewSeconds < nbf) {
      throw new UnauthorizedError('The token is not valid yet.');
    }
    if (iat !== undefined && nowSeconds + this.skewSeconds < iat) {
      throw new UnauthorizedError('The token was issued in the future.');
    }
    return claims as JwtClaims;
  }
}
