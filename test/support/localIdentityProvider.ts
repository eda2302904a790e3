/**
 * A tiny identity provider for tests: it holds a signing key, serves its JWKS (and an OpenID
 * discovery document) over loopback HTTP, and signs tokens with it. Use it to run the real
 * JwtVerifier/authenticator end to end without any network beyond 127.0.0.1.
 *
 *   const idp = await startLocalIdentityProvider();
 *   process.env.AUTH_ISSUER = idp.issuer; process.env.AUTH_AUDIENCE = idp.audience;
 *   process.env.AUTH_JWKS_URI = idp.jwksUri;
 *   const token = idp.sign({ scope: 'system/*.read' });
 *   ...
 *   await idp.close();
 */
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { constants, generateKeyPairSync, KeyObject, randomUUID, sign as signData } from 'node:crypto';

export type LocalIdpAlgorithm = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'ES256' | 'ES384';

export interface LocalIdentityProviderOptions {
  /** Key type of the provider: RSA (default, 2048 bits) or an EC curve. */
  keyType?: 'RSA' | 'P-256' | 'P-384';
  /** `aud` put into tokens by default. Default `api://durable-fhir-export`. */
  audience?: string;
  /** Current time in epoch milliseconds, for `iat`/`exp` defaults. Default `Date.now`. */
  now?: () => number;
  /** Publish `alg` in each JWK (off by default, like Entra ID). */
  publishAlg?: boolean;
}

export interface SignOptions {
  /** Default RS256 for RSA keys, ES256 / ES384 for EC keys. */
  alg?: LocalIdpAlgorithm | string;
  /** Overrides the `kid` header (default: the current key's kid). `null` omits it. */
  kid?: string | null;
  /** Lifetime of the default `exp` in seconds. Default 300. */
  expiresInSeconds?: number;
  /** Extra or replacing header members. */
  header?: Record<string, unknown>;
  /** Sign with this private key instead of the provider's (e.g. to forge a bad signature). */
  privateKey?: KeyObject;
}

export interface LocalIdentityProvider {
  /** `iss` of the tokens, e.g. `http://127.0.0.1:PORT/local-idp`. */
  issuer: string;
  /** Where the JWKS is served. */
  jwksUri: string;
  /** Default `aud` of the tokens. */
  audience: string;
  /** kid of the key currently signing. */
  readonly currentKid: string;
  /** Number of JWKS requests served so far. */
  readonly jwksRequests: number;
  /**
   * Signs a token. Defaults: iss, aud, sub/azp `test-client`, scope `system/*.read`, iat = now,
   * exp = now + 300 s. A claim given as `undefined` is removed.
   */
  sign(claims?: Record<string, unknown>, opts?: SignOptions): string;
  /**
   * Replaces the signing key with a fresh one and returns its kid. The old key is dropped from
   * the JWKS unless `keepPrevious` is set.
   */
  rotateKey(opts?: { keepPrevious?: boolean }): string;
  /** Makes the JWKS endpoint answer this status (e.g. 503) until reset with `undefined`. */
  failJwksWith(status: number | undefined): void;
  close(): Promise<void>;
}

interface KeyEntry {
  kid: string;
  privateKey: KeyObject;
  jwk: Record<string, unknown>;
}

const HASHES: Record<string, string> = {
  RS256: 'sha256',
  RS384: 'sha384',
  RS512: 'sha512',
  PS256: 'sha256',
  ES256: 'sha256',
  ES384: 'sha384',
};

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function newKey(keyType: 'RSA' | 'P-256' | 'P-384', publishAlg: boolean): KeyEntry {
  const pair =
    keyType === 'RSA'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: keyType });
  const kid = randomUUID();
  const jwk: Record<string, unknown> = { ...pair.publicKey.export({ format: 'jwk' }), kid, use: 'sig' };
  if (publishAlg) jwk.alg = keyType === 'RSA' ? 'RS256' : keyType === 'P-256' ? 'ES256' : 'ES384';
  return { kid, privateKey: pair.privateKey, jwk };
}

/** Signs `header.payload` with `alg` and `key`; unknown algs produce an empty signature. */
export function signJws(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  key: KeyObject | undefined,
): string {
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const alg = String(header.alg);
  const hash = HASHES[alg];
  if (!hash || !key) return `${signingInput}.`;
  const input = Buffer.from(signingInput);
  let signature: Buffer;
  if (alg.startsWith('ES')) {
    signature = signData(hash, input, { key, dsaEncoding: 'ieee-p1363' });
  } else if (alg.startsWith('PS')) {
    signature = signData(hash, input, {
      key,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
    });
  } else {
    signature = signData(hash, input, key);
  }
  return `${signingInput}.${b64url(signature)}`;
}

export async function startLocalIdentityProvider(
  options: LocalIdentityProviderOptions = {},
): Promise<LocalIdentityProvider> {
  const keyType = options.keyType ?? 'RSA';
  const publishAlg = options.publishAlg ?? false;
  const now = options.now ?? Date.now;
  const audience = options.audience ?? 'api://durable-fhir-export';
  let keys: KeyEntry[] = [newKey(keyType, publishAlg)];
  let jwksRequests = 0;
  let failStatus: number | undefined;
  let issuer = '';
  let jwksUri = '';

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/local-idp/jwks') {
      jwksRequests += 1;
      if (failStatus !== undefined) {
        res.writeHead(failStatus, { 'content-type': 'text/plain' }).end('unavailable');
        return;
      }
      const body = JSON.stringify({ keys: keys.map((k) => k.jwk) });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      return;
    }
    if (path === '/local-idp/.well-known/openid-configuration') {
      const body = JSON.stringify({
        issuer,
        jwks_uri: jwksUri,
        id_token_signing_alg_values_supported: ['RS256'],
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      return;
    }
    res.writeHead(404).end();
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  issuer = `http://127.0.0.1:${port}/local-idp`;
  jwksUri = `${issuer}/jwks`;

  const defaultAlg = keyType === 'RSA' ? 'RS256' : keyType === 'P-256' ? 'ES256' : 'ES384';

  return {
    issuer,
    jwksUri,
    audience,
    get currentKid() {
      return keys[keys.length - 1].kid;
    },
    get jwksRequests() {
      return jwksRequests;
    },
    sign(claims = {}, opts = {}) {
      const current = keys[keys.length - 1];
      const nowSeconds = Math.floor(now() / 1000);
      const header: Record<string, unknown> = { alg: opts.alg ?? defaultAlg, typ: 'JWT' };
      if (opts.kid !== null) header.kid = opts.kid ?? current.kid;
      Object.assign(header, opts.header ?? {});
      const body: Record<string, unknown> = {
        iss: issuer,
        aud: audience,
        sub: 'test-client',
        azp: 'test-client',
        scope: 'system/*.read',
        iat: nowSeconds,
        exp: nowSeconds + (opts.expiresInSeconds ?? 300),
        jti: randomUUID(),
        ...claims,
      };
      for (const [name, value] of Object.entries(body)) if (value === undefined) delete body[name];
      return signJws(header, body, opts.privateKey ?? current.privateKey);
    },
    rotateKey(opts = {}) {
      const next = newKey(keyType, publishAlg);
      keys = opts.keepPrevious ? [...keys, next] : [next];
      return next.kid;
    },
    failJwksWith(status) {
      failStatus = status;
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

/** The app settings that make an app trust tokens signed by `idp`. */
export function jwtAuthEnv(idp: LocalIdentityProvider): Record<string, string> {
  return {
    AUTH_MODE: 'jwt',
    AUTH_ISSUER: idp.issuer,
    AUTH_AUDIENCE: idp.audience,
    AUTH_JWKS_URI: idp.jwksUri,
  };
}
