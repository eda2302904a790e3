/**
 * Typed errors of the export domain. Each carries the HTTP status a client should see, so that the
 * HTTP layer and the job's failure details never have to guess.
 */
export abstract class ExportError extends Error {
  abstract readonly statusCode: number;
  /** The IssueType code used when this error becomes an OperationOutcome. */
  readonly issueCode: string = 'processing';

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The kick-off or another request is malformed or asks for something unsupported. */
export class BadRequestError extends ExportError {
  readonly statusCode = 400;
  override readonly issueCode: string;
  constructor(message: string, issueCode = 'invalid') {
    super(message);
    this.issueCode = issueCode;
  }
}

/** A job, a group or another resource the request names does not exist (or is not the caller's). */
export class NotFoundError extends ExportError {
  readonly statusCode = 404;
  override readonly issueCode = 'not-found';
}

/** The caller must slow down; `retryAfterSeconds` goes into the Retry-After header. */
export class TooManyRequestsError extends ExportError {
  readonly statusCode = 429;
  override readonly issueCode = 'throttled';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** The service cannot take the request just now (e.g. contention); the client retries after a pause. */
export class ServiceUnavailableError extends ExportError {
  readonly statusCode = 503;
  override readonly issueCode = 'transient';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/**
 * The export destination (Blob Storage) cannot be reached or refuses us. `unreachable` says it was a
 * network fault, which a job treats as a wrong destination (400, as the FHIR server does) but a
 * request being answered now treats as passing (503).
 */
export class DestinationConnectionError extends ExportError {
  override readonly issueCode = 'exception';
  constructor(
    message: string,
    readonly statusCode: number = 400,
    readonly unreachable = false,
  ) {
    super(message);
  }
}

/**
 * The data source answered with an error. `transient` errors (throttling, 5xx, timeouts) are worth
 * retrying; the others fail the job with the source's status and reason.
 */
export class SourceError extends ExportError {
  override readonly issueCode = 'exception';
  constructor(
    message: string,
    readonly statusCode: number,
    readonly transient: boolean,
    /** Seconds the source asked us to wait (Retry-After), when it said so. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/**
 * The data source's CapabilityStatement cannot be read or lists nothing to export, so the types of a
 * system export are unknown. A fault of the source, not of the request: 502.
 */
export class SourceCapabilitiesError extends SourceError {
  constructor(message: string) {
    super(message, 502, false);
  }
}

/** A job or progress document was changed by someone else since we read it (etag mismatch). */
export class JobConflictError extends ExportError {
  readonly statusCode = 409;
  override readonly issueCode = 'conflict';
}

/** A status change that the job lifecycle does not allow, e.g. Cancelled → Running. */
export class InvalidTransitionError extends ExportError {
  readonly statusCode = 409;
  override readonly issueCode = 'conflict';
}
