import { ErrorResponse, TimeoutError } from '@azure/cosmos';
import { AuthenticationError, CredentialUnavailableError } from '@azure/identity';
import { RestError } from '@azure/storage-blob';
import {
  BadRequestError,
  DestinationConnectionError,
  ExportError,
  InvalidTransitionError,
  JobConflictError,
  NotFoundError,
  SourceCapabilitiesError,
  SourceError,
} from '../../../src/export/errors';
import {
  classifyError,
  during,
  OPERATIONS,
  type ErrorClass,
  type Operation,
} from '../../../src/export/failureMapping';
import { FAILURE_TABLE, failureRowFor } from '../../../src/export/failureTable';
import { AnonymizationConfigError, DeidentificationError } from '../../../src/deid/contract';

const SAS = 'sv=2024-11-04&ss=b&srt=co&sp=rwdlac&se=2030-01-01T00:00:00Z&sig=c2VjcmV0LXNpZ25hdHVyZQ%3D%3D';
const ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const PHI = 'Patient/p-4711 "Jane Doe" born 1970-01-01';
/** What an SDK message may hold: a SAS URL, an account key, resource content. */
const LEAKY = `https://acct.blob.core.windows.net/exports/job/Patient-1.ndjson?${SAS} AccountKey=${ACCOUNT_KEY} ${PHI}`;

function restError(statusCode: number, code?: string): RestError {
  return new RestError(LEAKY, { statusCode, code });
}

function cosmosError(status: number, code: string): ErrorResponse {
  const error = new ErrorResponse(LEAKY);
  error.code = status;
  error.body = { code, message: LEAKY };
  return error;
}

/** An error of a socket, as undici and node report it. */
function networkError(code: string): Error {
  return Object.assign(new Error(LEAKY), { code });
}

/** A failed send, as the Azure SDKs report it: the socket's error is the cause. */
function sendError(causeCode: string): RestError {
  const error = new RestError(LEAKY, { code: 'REQUEST_SEND_ERROR' });
  error.cause = networkError(causeCode);
  return error;
}

function abortError(): Error {
  const error = new Error(LEAKY);
  error.name = 'AbortError';
  return error;
}

const failed = (reason: string, statusCode = 500): ErrorClass => ({
  kind: 'permanent',
  failure: { reason, statusCode },
});
const retried = (message: string): ErrorClass => ({ kind: 'transient', message });

interface Case {
  error: unknown;
  operation?: Operation;
  expected: ErrorClass;
}

const write = OPERATIONS.writeBlock;
const readJob = OPERATIONS.readJob;
const search = OPERATIONS.search;

/** One or more representative errors per row of FAILURE_TABLE, keyed by the row's `when`. */
const cases: Record<string, Case[]> = {
  'SourceError, transient, with Retry-After': [
    {
      error: new SourceError('source throttled (429): slow down', 429, true, 30),
      expected: { kind: 'throttled', retryAfterSeconds: 30, message: 'source throttled (429): slow down' },
    },
  ],
  'SourceError, transient': [
    {
      error: new SourceError('source failed (503): down', 503, true),
      expected: retried('source failed (503): down'),
    },
  ],
  BadRequestError: [
    {
      error: new BadRequestError('_typeFilter for Patient is not correctly URL-encoded'),
      operation: search,
      expected: failed('_typeFilter for Patient is not correctly URL-encoded', 400),
    },
  ],
  NotFoundError: [
    { error: new NotFoundError('Group g-1 was not found'), expected: failed('Group g-1 was not found', 404) },
  ],
  'DeidentificationError (a resource cannot be de-identified under processingErrors: raise)': [
    {
      error: new DeidentificationError('Patient: rule 2 (perturb) cannot perturb a string', 'Patient', 2),
      operation: OPERATIONS.exportPage,
      expected: failed('Patient: rule 2 (perturb) cannot perturb a string', 400),
    },
  ],
  'AnonymizationConfigError (the pinned configuration no longer compiles)': [
    {
      error: new AnonymizationConfigError('fhirPathRules[0]: unknown method scramble'),
      operation: OPERATIONS.readDeidConfig,
      expected: failed('fhirPathRules[0]: unknown method scramble', 400),
    },
  ],
  'SourceCapabilitiesError (the types of the source are unknown)': [
    {
      error: new SourceCapabilitiesError(
        'its CapabilityStatement (GET [base]/metadata) could not be read: source rejected the request (404): no such page',
      ),
      operation: OPERATIONS.listTypes,
      expected: failed(
        'The data source failed the listing of its resource types: its CapabilityStatement (GET [base]/metadata) could not be read: source rejected the request (404): no such page',
        502,
      ),
    },
  ],
  'SourceError, permanent, 400, 401, 403 or 5xx (the source refused the query or our credentials, or failed)':
    [
      {
        error: new SourceError('source rejected the request (401): token expired', 401, false),
        expected: failed('source rejected the request (401): token expired', 401),
      },
      {
        error: new SourceError('source returned a malformed Bundle (got Patient)', 502, false),
        expected: failed('source returned a malformed Bundle (got Patient)', 502),
      },
    ],
  // Never a 404 (or 410) on the poll: a client reads that as "no such job".
  'SourceError, permanent, any other status (404, 410, 422, …)': [
    {
      error: new SourceError('source rejected the request (404): Unknown resource type Device', 404, false),
      operation: search,
      expected: failed(
        'The data source failed the search for a page: source rejected the request (404): Unknown resource type Device',
        502,
      ),
    },
    {
      error: new SourceError('source rejected the request (410): cursor expired', 410, false),
      operation: search,
      expected: failed(
        'The data source failed the search for a page: source rejected the request (410): cursor expired',
        502,
      ),
    },
  ],
  DestinationConnectionError: [
    {
      error: new DestinationConnectionError(
        'Writing job/Patient-1.ndjson: the storage account refused access (403)',
        403,
      ),
      operation: write,
      expected: failed('Writing job/Patient-1.ndjson: the storage account refused access (403)', 403),
    },
  ],
  'any other ExportError': [
    {
      error: new JobConflictError('Job j was changed by someone else'),
      expected: failed('Job j was changed by someone else', 409),
    },
    {
      error: new InvalidTransitionError('Cancelled → Running'),
      expected: failed('Cancelled → Running', 409),
    },
  ],
  'HTTP status 408, 429 or 5xx (RestError, Cosmos DB, any error with a status)': [
    {
      error: restError(503, 'ServerBusy'),
      operation: write,
      expected: retried('Blob Storage failed the write of a file (503 ServerBusy)'),
    },
    {
      error: cosmosError(429, 'TooManyRequests'),
      operation: readJob,
      expected: retried('Cosmos DB failed the job read (429 TooManyRequests)'),
    },
    { error: restError(408), expected: retried('A dependency failed a request (408)') },
  ],
  'network error code, on the error or a cause (ECONNRESET, ETIMEDOUT, …)': [
    {
      error: networkError('ECONNRESET'),
      operation: search,
      expected: retried('The data source could not be reached for the search for a page (ECONNRESET)'),
    },
    {
      error: sendError('ECONNREFUSED'),
      operation: write,
      expected: retried('Blob Storage could not be reached for the write of a file (ECONNREFUSED)'),
    },
  ],
  'timeout or abort (AbortError, TimeoutError)': [
    {
      error: new TimeoutError(LEAKY),
      operation: OPERATIONS.checkpoint,
      expected: retried('Cosmos DB did not answer the progress checkpoint in time (TimeoutError)'),
    },
    {
      error: abortError(),
      operation: OPERATIONS.commitFile,
      expected: retried('Blob Storage did not answer the commit of a file in time (AbortError)'),
    },
  ],
  'Azure identity error (no credential, or the token refused)': [
    {
      error: new CredentialUnavailableError(LEAKY),
      operation: write,
      expected: failed(
        'Signing in to Blob Storage for the write of a file failed (CredentialUnavailableError)',
      ),
    },
    {
      error: new AuthenticationError(401, { error: 'invalid_client', error_description: LEAKY }),
      operation: readJob,
      expected: failed('Signing in to Cosmos DB for the job read failed (AuthenticationError)'),
    },
  ],
  'HTTP status 400': [
    {
      error: restError(400, 'InvalidBlockId'),
      operation: write,
      expected: failed('Blob Storage rejected the write of a file as invalid (400 InvalidBlockId)'),
    },
  ],
  'HTTP status 401 or 403': [
    {
      error: restError(403, 'AuthorizationPermissionMismatch'),
      operation: write,
      expected: failed('Blob Storage refused the write of a file (403 AuthorizationPermissionMismatch)'),
    },
    {
      error: cosmosError(401, 'Unauthorized'),
      operation: readJob,
      expected: failed('Cosmos DB refused the job read (401 Unauthorized)'),
    },
  ],
  'HTTP status 404': [
    {
      error: restError(404, 'ContainerNotFound'),
      operation: write,
      expected: failed(
        'Blob Storage could not find the target of the write of a file (404 ContainerNotFound)',
      ),
    },
  ],
  'HTTP status 409': [
    {
      error: restError(409, 'LeaseIdMissing'),
      operation: OPERATIONS.commitFile,
      expected: failed('Blob Storage refused the commit of a file as conflicting (409 LeaseIdMissing)'),
    },
  ],
  'HTTP status 412': [
    {
      error: restError(412, 'ConditionNotMet'),
      operation: OPERATIONS.commitFile,
      expected: failed(
        'Blob Storage refused the commit of a file: its condition no longer held (412 ConditionNotMet)',
      ),
    },
  ],
  'HTTP status 413': [
    {
      error: cosmosError(413, 'RequestEntityTooLarge'),
      operation: OPERATIONS.checkpoint,
      expected: failed('Cosmos DB refused the progress checkpoint as too large (413 RequestEntityTooLarge)'),
    },
    {
      error: restError(413, 'RequestBodyTooLarge'),
      operation: write,
      expected: failed('Blob Storage refused the write of a file as too large (413 RequestBodyTooLarge)'),
    },
  ],
  'any other HTTP status': [
    {
      error: restError(405, 'UnsupportedHttpVerb'),
      operation: write,
      expected: failed('Blob Storage answered the write of a file with an error (405 UnsupportedHttpVerb)'),
    },
  ],
  'SyntaxError (a dependency answered with invalid JSON)': [
    {
      error: new SyntaxError(`Unexpected token in JSON: ${PHI}`),
      operation: search,
      expected: failed('The data source answered the search for a page with invalid JSON (SyntaxError)', 502),
    },
  ],
  'anything else': [
    {
      error: new TypeError(`Cannot read properties of undefined (reading '${ACCOUNT_KEY}')`),
      operation: search,
      expected: failed('The search for a page failed unexpectedly (the data source, TypeError)'),
    },
    {
      error: new Error(LEAKY),
      operation: OPERATIONS.exportPage,
      expected: failed('The export of a page failed unexpectedly (Error)'),
    },
    { error: LEAKY, expected: failed('A request failed unexpectedly (string)') },
  ],
};

describe('FAILURE_TABLE', () => {
  it('has a case for every row and no case for a row that does not exist', () => {
    expect(Object.keys(cases)).toEqual(FAILURE_TABLE.map((row) => row.when));
  });

  describe.each(FAILURE_TABLE.map((row) => row.when))('row "%s"', (when) => {
    it.each((cases[when] ?? []).map((c) => [className(c.error), c] as const))(
      'given an error of class %s, then this row decides and classifies it as expected',
      (_name, { error, operation, expected }) => {
        expect(failureRowFor(error).when).toBe(when);
        expect(classifyError(error, { operation })).toEqual(expected);
      },
    );
  });
});

describe('classifyError', () => {
  // Typed errors carry messages written for the client; every other error's message is the SDK's.
  const untyped = Object.entries(cases).flatMap(([when, list]) =>
    list.filter((c) => !(c.error instanceof ExportError)).map((c) => [when, className(c.error), c] as const),
  );

  it.each(untyped)(
    'given an error of row "%s" (%s) whose message holds a SAS query, an account key and resource content, then none of it reaches the reason',
    (_when, _name, { error, operation }) => {
      const verdict = classifyError(error, { operation });
      const text = verdict.kind === 'permanent' ? verdict.failure.reason : verdict.message;
      for (const secret of [
        'sig=',
        'c2VjcmV0',
        ACCOUNT_KEY,
        'AccountKey',
        'p-4711',
        'Jane',
        'blob.core',
        '?',
      ]) {
        expect(text).not.toContain(secret);
      }
    },
  );

  it('given an error code that is not a plain token, then the reason leaves it out', () => {
    const error = restError(403, `AuthFailure?${SAS}`);
    expect(classifyError(error, { operation: write })).toEqual(
      failed('Blob Storage refused the write of a file (403)'),
    );
    const long = restError(403, 'A'.repeat(65));
    expect(classifyError(long, { operation: write })).toEqual(
      failed('Blob Storage refused the write of a file (403)'),
    );
  });

  it('given a Cosmos DB error and no operation, then the reason still names Cosmos DB', () => {
    expect(classifyError(cosmosError(403, 'Forbidden'))).toEqual(
      failed('Cosmos DB refused a request (403 Forbidden)'),
    );
  });
});

describe('during', () => {
  it('given an error thrown in an operation, then it is rethrown as it is and named by that operation over the caller’s', async () => {
    const error = restError(403, 'AuthorizationPermissionMismatch');
    const thrown = await during(write, Promise.reject(error)).catch((e: unknown) => e);
    expect(thrown).toBe(error);
    expect(classifyError(thrown, { operation: OPERATIONS.exportPage })).toEqual(
      failed('Blob Storage refused the write of a file (403 AuthorizationPermissionMismatch)'),
    );
  });

  it('given nested operations, then the innermost names the error', async () => {
    const error = cosmosError(401, 'Unauthorized');
    const inner = during(readJob, Promise.reject(error));
    const thrown = await during(OPERATIONS.startJob, inner).catch((e: unknown) => e);
    expect(classifyError(thrown)).toEqual(failed('Cosmos DB refused the job read (401 Unauthorized)'));
  });

  it('given work that succeeds, then its value comes back', async () => {
    await expect(during(readJob, Promise.resolve(42))).resolves.toBe(42);
  });
});

function className(error: unknown): string {
  return error instanceof Error ? error.constructor.name : typeof error;
}
