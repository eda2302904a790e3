/**
 * How the FHIR REST source authenticates: no auth, a static bearer token, OAuth2 client credentials,
 * or an Azure credential (managed identity through DefaultAzureCredential). Tokens are cached until
 * shortly before they expire, and dropped once when the source answers 401.
 */
import type { TokenCredential } from '@azure/identity';
import { SourceError } from '../export/errors';
import { isRecord, outcomeText, parseRetryAfter, sanitizeMessage } from './responseText';

export type SourceAuthConfig =
  | { mode: 'none' }
  | { mode: 'bearer'; token: string }
  | { mode: 'client-credentials'; tokenUrl: string; clientId: string; clientSecret: string; scope?: string }
  /** `clientId` selects a user-assigned identity; `scope` defaults to `{source origin}/.default`. */
  | { mode: 'managed-identity'; clientId?: string; scope?: string };

export type SourceAuthMode = SourceAuthConfig['mode'];

/** Supplies the Authorization header of each request to the source. */
export interface SourceAuth {
  /** The header value (`Bearer …`), or undefined for no auth. */
  authorization(): Promise<string | undefined>;
  /**
   * The source answered 401 to `used`: forget it. Returns true when a new attempt may succeed
   * (a fresh token can be obtained), false when repeating is pointless.
   */
  invalidate(used: string | undefined): boolean;
}

export interface SourceAuthDeps {
  /** Azure credential for `managed-identity`; by default a DefaultAzureCredential. */
  credential?: TokenCredential;
  fetch?: typeof fetch;
  /** Milliseconds for a token request; default 30 s. */
  timeoutMs?: number;
  now?: () => number;
}

/** A token is renewed this long before its expiry. */
export const TOKEN_EXPIRY_MARGIN_MS = 60_000;

export function createSourceAuth(
  config: SourceAuthConfig,
  sourceBaseUrl: string,
  deps: SourceAuthDeps = {},
): SourceAuth {
  const now = deps.now ?? Date.now;
  switch (config.mode) {
    case 'none':
      return { authorization: async () => undefined, invalidate: () => false };
    case 'bearer': {
      const header = `Bearer ${config.token}`;
      return { authorization: async () => header, invalidate: () => false };
    }
    case 'client-credentials':
      return new CachedTokenAuth(
        () => requestClientCredentialsToken(config, deps.fetch ?? fetch, deps.timeoutMs ?? 30_000, now),
        now,
      );
    case 'managed-identity': {
      const scope = config.scope ?? `${new URL(sourceBaseUrl).origin}/.default`;
      let credential = deps.credential;
      return new CachedTokenAuth(async () => {
        credential ??= await defaultAzureCredential(config.clientId);
        return azureToken(credential, scope);
      }, now);
    }
  }
}

interface IssuedToken {
  token: string;
  /** Epoch milliseconds when the token expires. */
  expiresAt: number;
}

/** Caches one token, shares an in-flight request between concurrent callers. */
class CachedTokenAuth implements SourceAuth {
  private current?: IssuedToken;
  private pending?: Promise<IssuedToken>;

  constructor(
    private readonly issue: () => Promise<IssuedToken>,
    private readonly now: () => number,
  ) {}

  async authorization(): Promise<string> {
    if (this.current && this.current.expiresAt - TOKEN_EXPIRY_MARGIN_MS > this.now()) {
      return `Bearer ${this.current.token}`;
    }
    if (!this.pending) {
      this.pending = this.issue().finally(() => {
        this.pending = undefined;
      });
    }
    this.current = await this.pending;
    return `Bearer ${this.current.token}`;
  }

  invalidate(used: string | undefined): boolean {
    if (this.current && used === `Bearer ${this.current.token}`) this.current = undefined;
    return true;
  }
}

async function requestClientCredentialsToken(
  config: Extract<SourceAuthConfig, { mode: 'client-credentials' }>,
  fetchFn: typeof fetch,
  timeoutMs: number,
  now: () => number,
): Promise<IssuedToken> {
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: config.clientId,
    client_secret: config.clientSecret,
  });
  if (config.scope) form.set('scope', config.scope);
  let response: Response;
  try {
    response = await fetchFn(config.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form.toString(),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch {
    throw new SourceError('token endpoint of the source could not be reached', 503, true);
  }
  const text = await response.text().catch(() => '');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const reason = describeTokenError(body) ?? `status ${response.status}`;
    if (response.status >= 500 || response.status === 429) {
      const wait = parseRetryAfter(response.headers.get('retry-after'), now());
      throw new SourceError(`token endpoint of the source failed: ${reason}`, 503, true, wait);
    }
    throw new SourceError(
      `token endpoint of the source refused the client credentials: ${reason}`,
      401,
      false,
    );
  }
  if (!isRecord(body) || typeof body.access_token !== 'string' || body.access_token === '') {
    throw new SourceError('token endpoint of the source returned no access_token', 502, false);
  }
  const expiresIn = Number(body.expires_in);
  const lifetimeMs = Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn * 1000 : 5 * 60_000;
  return { token: body.access_token, expiresAt: now() + lifetimeMs };
}

function describeTokenError(body: unknown): string | undefined {
  if (!isRecord(body)) return undefined;
  const parts = [body.error, body.error_description].filter((p): p is string => typeof p === 'string');
  const text = parts.length > 0 ? parts.join(': ') : outcomeText(body);
  return text ? sanitizeMessage(text) : undefined;
}

async function azureToken(credential: TokenCredential, scope: string): Promise<IssuedToken> {
  let result;
  try {
    result = await credential.getToken(scope);
  } catch (error) {
    const reason = error instanceof Error ? sanitizeMessage(error.message) : 'unknown error';
    throw new SourceError(`could not obtain an Azure token for the source: ${reason}`, 401, false);
  }
  if (!result) throw new SourceError('Azure credential returned no token for the source', 401, false);
  return { token: result.token, expiresAt: result.expiresOnTimestamp };
}

async function defaultAzureCredential(clientId: string | undefined): Promise<TokenCredential> {
  const { DefaultAzureCredential } = await import('@azure/identity');
  // Without an explicit id, DefaultAzureCredential itself honours AZURE_CLIENT_ID.
  return clientId
    ? new DefaultAzureCredential({ managedIdentityClientId: clientId })
    : new DefaultAzureCredential();
}
