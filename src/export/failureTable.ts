/**
 * The one table of what an error means for a job. `classifyError` (failureMapping.ts) takes the first
 * row that matches, so rows go from the most specific to anything else.
 *
 * Reasons of errors that are not ours name the dependency, the operation and the dependency's status
 * and error code, in fixed wording. They never quote an SDK's message: those can hold SAS URLs,
 * account keys, query text or resource content.
 */
import {
  BadRequestError,
  DestinationConnectionError,
  ExportError,
  NotFoundError,
  SourceCapabilitiesError,
  SourceError,
} from './errors';
import { AnonymizationConfigError, DeidentificationError } from '../deid/contract';
import type { FailureDetails } from './model';

export type ErrorClass =
  | { kind: 'transient'; message: string }
  | { kind: 'throttled'; retryAfterSeconds: number; message: string }
  | { kind: 'permanent'; failure: FailureDetails };

/** What was under way when an error arose, in words a client may read. */
export interface Operation {
  /** The service asked, e.g. `Blob Storage`; none when the step is our own. */
  dependency?: string;
  /** What was asked, as a noun phrase, e.g. `the write of a file`. */
  action: string;
}

/** The operations the page step and the job start name (see `during` in failureMapping.ts). */
export const OPERATIONS = {
  readJob: { dependency: 'Cosmos DB', action: 'the job read' },
  updateJob: { dependency: 'Cosmos DB', action: 'the job update' },
  readProgress: { dependency: 'Cosmos DB', action: 'the progress read' },
  readDeidConfig: { dependency: 'Cosmos DB', action: 'the read of the de-identification configuration' },
  createProgress: { dependency: 'Cosmos DB', action: 'the creation of a progress record' },
  checkpoint: { dependency: 'Cosmos DB', action: 'the progress checkpoint' },
  releaseSlots: { dependency: 'Cosmos DB', action: 'the release of the job slots' },
  search: { dependency: 'the data source', action: 'the search for a page' },
  plan: { dependency: 'the data source', action: 'the planning of the export' },
  listTypes: { dependency: 'the data source', action: 'the listing of its resource types' },
  prepareContainer: { dependency: 'Blob Storage', action: 'the creation of the export container' },
  writeBlock: { dependency: 'Blob Storage', action: 'the write of a file' },
  commitFile: { dependency: 'Blob Storage', action: 'the commit of a file' },
  exportPage: { action: 'the export of a page' },
  startJob: { action: 'the start of the job' },
} as const satisfies Record<string, Operation>;

export interface FailureRow {
  /** The error class the row is for; also the name of its case in the tests. */
  when: string;
  matches(error: unknown): boolean;
  then(error: unknown, at: Operation): ErrorClass;
}

/** A row whose `then` sees the error as the type its guard proved. */
function row<T>(
  when: string,
  guard: (error: unknown) => error is T,
  then: (error: T, at: Operation) => ErrorClass,
): FailureRow {
  return { when, matches: guard, then: (error, at) => then(error as T, at) };
}

const is =
  (test: (error: unknown) => boolean) =>
  (error: unknown): error is unknown =>
    test(error);

/** Statuses of a source's refusal that the job's failure keeps: the client can act on them. */
const SOURCE_REFUSALS = new Set([400, 401, 403]);

const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const TIMEOUT_NAMES = new Set(['AbortError', 'TimeoutError']);
const TIMEOUT_CODES = new Set([
  'ABORT_ERR',
  'TimeoutError',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
const IDENTITY_ERRORS = new Set([
  'CredentialUnavailableError',
  'AuthenticationError',
  'AggregateAuthenticationError',
  'AuthenticationRequiredError',
]);

/** `value` when it is a short plain token (an error code or class name), else undefined. */
export function safeToken(value: unknown): string | undefined {
  return typeof value === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(value) ? value : undefined;
}

function field(error: unknown, name: string): unknown {
  return typeof error === 'object' && error !== null ? (error as Record<string, unknown>)[name] : undefined;
}

/** The HTTP status of an SDK error: `statusCode` (RestError and most others), or Cosmos DB's numeric `code`. */
export function httpStatusOf(error: unknown): number | undefined {
  const status = field(error, 'statusCode') ?? field(error, 'code');
  return typeof status === 'number' ? status : undefined;
}

/** Cosmos DB errors carry the HTTP status as a numeric `code` and the service's code in `body.code`. */
function isCosmosResponse(error: unknown): boolean {
  return typeof field(error, 'code') === 'number';
}

/** The status with the service's error code, e.g. `403 AuthorizationPermissionMismatch`. */
function statusText(error: unknown): string {
  const code = safeToken(
    isCosmosResponse(error) ? field(field(error, 'body'), 'code') : field(error, 'code'),
  );
  return [httpStatusOf(error), code].filter((part) => part !== undefined).join(' ');
}

/**
 * The network code of the error or of one of its causes (RestError wraps the socket's error) when
 * it is one of a fault that passes (a reset or refused connection, a timeout).
 */
export function networkCodeOf(error: unknown): string | undefined {
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 5; depth++) {
    const code = field(e, 'code');
    if (typeof code === 'string' && TRANSIENT_NETWORK_CODES.has(code)) return code;
    e = field(e, 'cause');
  }
  return undefined;
}

/** The error's class name, or the type of a thrown non-object. */
export function nameOf(error: unknown): string {
  if (typeof error !== 'object' || error === null) return typeof error;
  return safeToken(field(error, 'name')) ?? 'Error';
}

function hasStatus(test: (status: number) => boolean) {
  return is((error) => {
    const status = httpStatusOf(error);
    return status !== undefined && test(status);
  });
}

/** The dependency as the subject of a reason. */
const who = (t: Operation) => t.dependency ?? 'a dependency';
const capitalised = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
const permanent = (statusCode: number, reason: string): ErrorClass => ({
  kind: 'permanent',
  failure: { reason: capitalised(reason), statusCode },
});
const transient = (message: string): ErrorClass => ({ kind: 'transient', message: capitalised(message) });
const asIs = (error: ExportError): ErrorClass => ({
  kind: 'permanent',
  failure: { reason: error.message, statusCode: error.statusCode },
});

const ANYTHING_ELSE = row(
  'anything else',
  is(() => true),
  (error, { dependency, action }) =>
    permanent(500, `${action} failed unexpectedly (${dependency ? `${dependency}, ` : ''}${nameOf(error)})`),
);

export const FAILURE_TABLE: readonly FailureRow[] = [
  row(
    'SourceError, transient, with Retry-After',
    (e): e is SourceError & { retryAfterSeconds: number } =>
      e instanceof SourceError && e.transient && e.retryAfterSeconds !== undefined,
    (e) => ({ kind: 'throttled', retryAfterSeconds: e.retryAfterSeconds, message: e.message }),
  ),
  row(
    'SourceError, transient',
    (e): e is SourceError => e instanceof SourceError && e.transient,
    (e) => ({ kind: 'transient', message: e.message }),
  ),
  // Typed errors are written for the client: their message and status stand as they are.
  row('BadRequestError', (e): e is BadRequestError => e instanceof BadRequestError, asIs),
  row('NotFoundError', (e): e is NotFoundError => e instanceof NotFoundError, asIs),
  // Its message names the resource type, the rule and the method, never the resource's content.
  row(
    'DeidentificationError (a resource cannot be de-identified under processingErrors: raise)',
    (e): e is DeidentificationError => e instanceof DeidentificationError,
    asIs,
  ),
  // Checked at kick-off; met in a job only if the engine changed under it since.
  row(
    'AnonymizationConfigError (the pinned configuration no longer compiles)',
    (e): e is AnonymizationConfigError => e instanceof AnonymizationConfigError,
    asIs,
  ),
  row(
    'SourceCapabilitiesError (the types of the source are unknown)',
    (e): e is SourceCapabilitiesError => e instanceof SourceCapabilitiesError,
    (e, t) => permanent(502, `${who(t)} failed ${t.action}: ${e.message}`),
  ),
  row(
    'SourceError, permanent, 400, 401, 403 or 5xx (the source refused the query or our credentials, or failed)',
    (e): e is SourceError =>
      e instanceof SourceError && (SOURCE_REFUSALS.has(e.statusCode) || e.statusCode >= 500),
    asIs,
  ),
  // A 404 or 410 on the poll means "no such job" (or "gone"), so another status of the source becomes
  // a 502 that names it: the source, not the job, failed.
  row(
    'SourceError, permanent, any other status (404, 410, 422, …)',
    (e): e is SourceError => e instanceof SourceError,
    (e, t) => permanent(502, `${who(t)} failed ${t.action}: ${e.message}`),
  ),
  row(
    'DestinationConnectionError',
    (e): e is DestinationConnectionError => e instanceof DestinationConnectionError,
    asIs,
  ),
  row('any other ExportError', (e): e is ExportError => e instanceof ExportError, asIs),
  row(
    'HTTP status 408, 429 or 5xx (RestError, Cosmos DB, any error with a status)',
    hasStatus((s) => s >= 500 || s === 408 || s === 429),
    (e, t) => transient(`${who(t)} failed ${t.action} (${statusText(e)})`),
  ),
  row(
    'network error code, on the error or a cause (ECONNRESET, ETIMEDOUT, …)',
    is((e) => networkCodeOf(e) !== undefined),
    (e, t) => transient(`${who(t)} could not be reached for ${t.action} (${networkCodeOf(e)})`),
  ),
  row(
    'timeout or abort (AbortError, TimeoutError)',
    is((e) => TIMEOUT_NAMES.has(nameOf(e)) || TIMEOUT_CODES.has(String(field(e, 'code')))),
    (e, t) => transient(`${who(t)} did not answer ${t.action} in time (${nameOf(e)})`),
  ),
  // Before the status rows: a refused token request carries the identity endpoint's status.
  // The permanent rows below answer 500: the storage and credentials are the service's own, so
  // a refusal is a fault of the deployment, never of the client's request.
  row(
    'Azure identity error (no credential, or the token refused)',
    is((e) => IDENTITY_ERRORS.has(nameOf(e))),
    (e, t) => permanent(500, `signing in to ${who(t)} for ${t.action} failed (${nameOf(e)})`),
  ),
  row(
    'HTTP status 400',
    hasStatus((s) => s === 400),
    (e, t) => permanent(500, `${who(t)} rejected ${t.action} as invalid (${statusText(e)})`),
  ),
  row(
    'HTTP status 401 or 403',
    hasStatus((s) => s === 401 || s === 403),
    (e, t) => permanent(500, `${who(t)} refused ${t.action} (${statusText(e)})`),
  ),
  row(
    'HTTP status 404',
    hasStatus((s) => s === 404),
    (e, t) => permanent(500, `${who(t)} could not find the target of ${t.action} (${statusText(e)})`),
  ),
  row(
    'HTTP status 409',
    hasStatus((s) => s === 409),
    (e, t) => permanent(500, `${who(t)} refused ${t.action} as conflicting (${statusText(e)})`),
  ),
  row(
    'HTTP status 412',
    hasStatus((s) => s === 412),
    (e, t) =>
      permanent(500, `${who(t)} refused ${t.action}: its condition no longer held (${statusText(e)})`),
  ),
  row(
    'HTTP status 413',
    hasStatus((s) => s === 413),
    (e, t) => permanent(500, `${who(t)} refused ${t.action} as too large (${statusText(e)})`),
  ),
  row(
    'any other HTTP status',
    hasStatus(() => true),
    (e, t) => permanent(500, `${who(t)} answered ${t.action} with an error (${statusText(e)})`),
  ),
  row(
    'SyntaxError (a dependency answered with invalid JSON)',
    (e): e is SyntaxError => e instanceof SyntaxError,
    (_e, t) => permanent(502, `${who(t)} answered ${t.action} with invalid JSON (SyntaxError)`),
  ),
  ANYTHING_ELSE,
];

/** The row that decides for `error`: the first that matches (the last one matches anything). */
export function failureRowFor(error: unknown): FailureRow {
  return FAILURE_TABLE.find((r) => r.matches(error)) ?? ANYTHING_ELSE;
}

/** `operation` completed with what the error tells: Cosmos DB's errors have a shape of their own. */
export function targetOf(error: unknown, operation: Operation | undefined): Operation {
  const dependency = operation?.dependency ?? (isCosmosResponse(error) ? 'Cosmos DB' : undefined);
  return { dependency, action: operation?.action ?? 'a request' };
}
