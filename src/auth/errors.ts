import { ExportError, ServiceUnavailableError } from '../export/errors';

/** The realm named in every `WWW-Authenticate` challenge this service sends. */
export const AUTH_REALM = 'fhir-export';

/** Error codes of RFC 6750 §3.1 that a bearer challenge may carry. */
export type BearerErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

/**
 * RFC 6750 allows only printable ASCII without `"` and `\` in `error_description` and `scope`.
 * Anything else is replaced so that the header stays well formed whatever the message says.
 */
function headerSafe(text: string): string {
  return text.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, ' ').slice(0, 300);
}

/** Builds a `Bearer` challenge; no error code is sent when the request carried no credentials. */
export function bearerChallenge(error?: BearerErrorCode, description?: string, scope?: string): string {
  const parts = [`realm="${AUTH_REALM}"`];
  if (error) parts.push(`error="${error}"`);
  if (error && description) parts.push(`error_description="${headerSafe(description)}"`);
  if (scope) parts.push(`scope="${headerSafe(scope)}"`);
  return `Bearer ${parts.join(', ')}`;
}

/**
 * The request has no usable credentials: no bearer token, or one that fails validation.
 * The message describes the failure in general terms and never contains the token itself.
 */
export class UnauthorizedError extends ExportError {
  readonly statusCode = 401;
  override readonly issueCode = 'login';
  /** Value for the response's `WWW-Authenticate` header. */
  readonly wwwAuthenticate: string;

  /**
   * @param message why the credentials were refused (safe to show to the caller)
   * @param error   the RFC 6750 code; `null` when the request simply had no token (then the
   *                challenge carries no error code, as RFC 6750 §3.1 asks)
   */
  constructor(message: string, error: 'invalid_token' | 'invalid_request' | null = 'invalid_token') {
    super(message);
    this.wwwAuthenticate = bearerChallenge(error ?? undefined, message);
  }
}

/** The token is valid but its scopes do not allow what was asked. */
export class ForbiddenError extends ExportError {
  readonly statusCode = 403;
  override readonly issueCode = 'forbidden';
  readonly wwwAuthenticate: string;

  /**
   * @param message       what is not allowed (safe to show to the caller)
   * @param requiredScope the scope(s) that would have allowed it, space-separated, if known
   */
  constructor(message: string, requiredScope?: string) {
    super(message);
    this.wwwAuthenticate = bearerChallenge('insufficient_scope', message, requiredScope);
  }
}

/**
 * Tokens cannot be checked right now because the identity provider's key set is unreachable.
 * This is the service's problem, not the caller's, so it is a 503 rather than a 401.
 */
export class AuthenticationUnavailableError extends ServiceUnavailableError {}
