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
import { UnauthorizedError } from './errors';
import { JwksCache, JwksFetcher, defaultFetchJwks } from './jwks';
import {
  ALGORITHMS,
  JwtAlgorithm,
  SUPPORTED_ALGORITHMS,
  checkSignature,
  isSupportedAlgorithm,
} from './jwtAlgorithms';

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
const BASE64URL = /^[A-Za-z0-9_-]+$/;

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
