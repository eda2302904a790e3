/** Maps domain results and errors to HTTP responses. */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { Principal } from '../../src/auth';
import { getServices } from '../../src/services';
import { DestinationConnectionError, ExportError } from '../../src/export/errors';
import { networkCodeOf } from '../../src/export/failureTable';
import { errorOutcome, operationOutcome } from '../../src/export/operationOutcome';
import { publicBaseUrl } from '../../src/http/publicBaseUrl';
import { platformSettingsFromEnv } from '../../src/settings/hostSettings';

export const FHIR_JSON = 'application/fhir+json';

export function fhirJson(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): HttpResponseInit {
  return { status, headers: { 'Content-Type': FHIR_JSON, ...headers }, body: JSON.stringify(body) };
}

/**
 * An error as an OperationOutcome with its own status. Errors that are not ours become a 500 that
 * says nothing about the cause (the details go to the log, never to the client).
 */
export function errorResponse(error: unknown, context: InvocationContext): HttpResponseInit {
  if (isPassingFault(error)) {
    context.warn('A request failed on a network fault', error);
    const outcome = operationOutcome(
      'The service cannot reach its storage just now; retry shortly.',
      'transient',
    );
    return fhirJson(503, outcome, { 'Retry-After': String(PASSING_FAULT_RETRY_SECONDS) });
  }
  if (error instanceof ExportError) {
    const headers: Record<string, string> = {};
    const retryAfter = (error as { retryAfterSeconds?: unknown }).retryAfterSeconds;
    if (typeof retryAfter === 'number') headers['Retry-After'] = String(Math.ceil(retryAfter));
    const challenge = (error as { wwwAuthenticate?: unknown }).wwwAuthenticate;
    if (typeof challenge === 'string') headers['WWW-Authenticate'] = challenge;
    const range = (error as { contentRange?: unknown }).contentRange;
    if (typeof range === 'string') headers['Content-Range'] = range;
    return fhirJson(error.statusCode, errorOutcome(error), headers);
  }
  context.error('Unhandled error', error);
  return fhirJson(500, operationOutcome('Unknown error', 'exception', 'fatal'));
}

/** How long a client waits after a 503 for a network fault of the service's own storage. */
const PASSING_FAULT_RETRY_SECONDS = 5;

/**
 * A network fault between the service and its own storage or job store (a reset, a timeout, an
 * unreachable account): the request was fine, so the answer is 503 and the client tries again.
 */
function isPassingFault(error: unknown): boolean {
  if (error instanceof DestinationConnectionError) return error.unreachable;
  return !(error instanceof ExportError) && networkCodeOf(error) !== undefined;
}

/** The FHIR base URL links are built on (see src/http/publicBaseUrl.ts); a 400 for a refused Host. */
export function baseUrl(request: HttpRequest): string {
  return publicBaseUrl(request.url, platformSettingsFromEnv(process.env));
}

/** Runs a handler and turns anything it throws into an OperationOutcome response. */
export async function handled(
  context: InvocationContext,
  work: () => Promise<HttpResponseInit>,
): Promise<HttpResponseInit> {
  try {
    return await work();
  } catch (error) {
    return errorResponse(error, context);
  }
}

/** The caller of `request`, or an `UnauthorizedError` (401 with its challenge). */
export async function principalOf(request: HttpRequest): Promise<Principal> {
  const services = await getServices();
  return services.authenticator.authenticate(request.headers.get('authorization') ?? undefined);
}
