/**
 * The signing keys of the identity provider: fetching its JSON Web Key Set, importing the usable
 * keys, caching them and refetching on expiry or key rotation. Keys come only from the configured
 * JWKS URI, never from members of a token's header.
 */
import { createPublicKey, KeyObject } from 'node:crypto';
import { AuthenticationUnavailableError } from './errors';
import { JwtAlgorithm, keySuits } from './jwtAlgorithms';
import { readBodyText } from '../http/readBody';

/** Fetches and parses a JWKS document. Injectable for tests; the default uses global `fetch`. */
export type JwksFetcher = (uri: string) => Promise<unknown>;

/** JWKS documents larger than this are refused. */
const MAX_JWKS_BYTES = 512 * 1024;

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

/** Whether `entry` may verify signatures made with `alg`. */
function entrySuits(entry: CachedKey, alg: JwtAlgorithm): boolean {
  if (entry.alg !== undefined && entry.alg !== alg) return false;
  return keySuits(entry.key, alg);
}

export async function defaultFetchJwks(uri: string, timeoutMs: number): Promise<unknown> {
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
    return candidates.filter((k) => entrySuits(k, alg));
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
