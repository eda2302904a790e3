/**
 * Turns an `Authorization` header into a Principal: who is calling and which scopes they hold.
 * Configuration comes from the environment once, via readAuthConfig.
 */
import { AUTH } from '../settings/authSettings';
import { UnauthorizedError } from './errors';
import { JwtVerifier, JwtVerifierOptions } from './jwtVerifier';
import { scopesFromClaims } from './smartScopes';

export type AuthMode = (typeof AUTH.mode.values)[number];

export interface JwtAuthConfig {
  mode: 'jwt';
  /** Accepted issuer(s); `iss` must equal one exactly. */
  issuer: string | readonly string[];
  /** Accepted audience(s); `aud` must contain one. */
  audience: string | readonly string[];
  jwksUri: string;
  /** Tolerance for `exp`/`nbf`/`iat` in seconds (default 60). */
  clockSkewSeconds?: number;
}

export interface NoAuthConfig {
  mode: 'none';
}

export type AuthConfig = JwtAuthConfig | NoAuthConfig;

/** The authenticated caller. */
export interface Principal {
  /** The OAuth client: `azp`, else `appid`, else `client_id`, else `sub`. Jobs are owned by it. */
  clientId: string;
  /** `sub` of the token (the client itself for client-credential tokens). */
  subject: string;
  /** SMART scopes from `scope`, `scp` and `roles`. */
  scopes: string[];
}

export interface Authenticator {
  readonly mode: AuthMode;
  /** Resolves the caller, or rejects with UnauthorizedError / AuthenticationUnavailableError. */
  authenticate(authorizationHeader: string | undefined): Promise<Principal>;
}

/** Test and tuning hooks passed through to the JWT verifier (clock, fetcher, cache timings). */
export type AuthenticatorOverrides = Omit<
  Partial<JwtVerifierOptions>,
  'issuer' | 'audience' | 'jwksUri' | 'clockSkewSeconds'
>;

/** The client id recorded for every caller when AUTH_MODE is `none`. */
export const ANONYMOUS_CLIENT_ID = 'anonymous';

/** The caller when AUTH_MODE is `none`: one shared identity allowed to export everything. */
export function anonymousPrincipal(): Principal {
  return { clientId: ANONYMOUS_CLIENT_ID, subject: ANONYMOUS_CLIENT_ID, scopes: ['system/*.read'] };
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '127.0.0.1' || hostname === '[::1]';
}

/**
 * Reads the auth settings (AUTH in src/settings/authSettings.ts: `AUTH_MODE`, and with `jwt` the
 * issuer, audience, JWKS URI and clock skew). Throws an Error naming the first missing or invalid
 * setting.
 */
export function readAuthConfig(env: Record<string, string | undefined> = process.env): AuthConfig {
  const modeSetting = AUTH.mode;
  const mode = (env[modeSetting.name] ?? '').trim().toLowerCase() || modeSetting.default;
  if (mode === 'none') return { mode: 'none' };
  if (mode !== 'jwt') {
    const allowed = modeSetting.values.map((value) => `'${value}'`).join(' or ');
    throw new Error(`${modeSetting.name} must be ${allowed}, not '${env[modeSetting.name]}'`);
  }

  const issuer = list(env[AUTH.issuer.name]);
  if (issuer.length === 0) throw new Error(`${AUTH.issuer.name} is required when ${modeSetting.name} is jwt`);
  const audience = list(env[AUTH.audience.name]);
  if (audience.length === 0)
    throw new Error(`${AUTH.audience.name} is required when ${modeSetting.name} is jwt`);
  const jwksName = AUTH.jwksUri.name;
  const jwksUri = (env[jwksName] ?? '').trim();
  if (!jwksUri) throw new Error(`${jwksName} is required when ${modeSetting.name} is jwt`);
  let url: URL;
  try {
    url = new URL(jwksUri);
  } catch {
    throw new Error(`${jwksName} is not a valid URL`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
    throw new Error(`${jwksName} must use https (plain http is allowed for loopback only)`);
  }

  const { name: skewName, min, max = Number.MAX_SAFE_INTEGER, default: defaultSkew } = AUTH.clockSkewSeconds;
  let clockSkewSeconds = defaultSkew;
  const skew = (env[skewName] ?? '').trim();
  if (skew) {
    if (!/^\d+$/.test(skew) || Number(skew) < min || Number(skew) > max) {
      throw new Error(`${skewName} must be an integer from ${min} to ${max}`);
    }
    clockSkewSeconds = Number(skew);
  }
  return {
    mode: 'jwt',
    issuer: issuer.length === 1 ? issuer[0] : issuer,
    audience: audience.length === 1 ? audience[0] : audience,
    jwksUri,
    clockSkewSeconds,
  };
}

/** Extracts the token of a `Bearer` Authorization header. */
export function bearerToken(authorizationHeader: string | undefined): string {
  const header = authorizationHeader?.trim();
  if (!header) throw new UnauthorizedError('An access token is required.', null);
  const match = /^Bearer +(\S+)$/i.exec(header);
  if (!match) {
    // Another scheme (Basic, …) or garbage: answer with a plain challenge, as for no token.
    if (!/^Bearer(\s|$)/i.test(header)) {
      throw new UnauthorizedError('An access token is required (Authorization: Bearer).', null);
    }
    throw new UnauthorizedError('The Authorization header is malformed.', 'invalid_request');
  }
  return match[1];
}

function stringClaim(claims: Record<string, unknown>, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = claims[name];
    if (typeof value === 'string' && value.length > 0) return value;
  }
  return undefined;
}

/** Maps verified claims to a Principal; a token naming no client at all is refused. */
export function principalFromClaims(claims: Record<string, unknown>): Principal {
  const clientId = stringClaim(claims, 'azp', 'appid', 'client_id', 'sub');
  if (!clientId) throw new UnauthorizedError('The token does not identify a client.');
  return {
    clientId,
    subject: stringClaim(claims, 'sub') ?? clientId,
    scopes: scopesFromClaims(claims),
  };
}

class JwtAuthenticator implements Authenticator {
  readonly mode = 'jwt' as const;
  constructor(private readonly verifier: JwtVerifier) {}

  async authenticate(authorizationHeader: string | undefined): Promise<Principal> {
    const token = bearerToken(authorizationHeader);
    const { claims } = await this.verifier.verify(token);
    return principalFromClaims(claims);
  }
}

class AnonymousAuthenticator implements Authenticator {
  readonly mode = 'none' as const;
  async authenticate(): Promise<Principal> {
    return anonymousPrincipal();
  }
}

/** Builds the authenticator for a configuration. Create one per process: it owns the key cache. */
export function createAuthenticator(
  config: AuthConfig,
  overrides: AuthenticatorOverrides = {},
): Authenticator {
  if (config.mode === 'none') return new AnonymousAuthenticator();
  return new JwtAuthenticator(
    new JwtVerifier({
      ...overrides,
      issuer: config.issuer,
      audience: config.audience,
      jwksUri: config.jwksUri,
      clockSkewSeconds: config.clockSkewSeconds,
    }),
  );
}
