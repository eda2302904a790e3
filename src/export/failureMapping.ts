/**
 * Decides what an error means for a job: worth retrying, a wait the source asked for, or a failure
 * with the reason and status the client will see. The decisions are the rows of `FAILURE_TABLE`
 * (failureTable.ts); this module walks it and knows which operation an error arose in.
 */
import { failureRowFor, nameOf, targetOf, type ErrorClass, type Operation } from './failureTable';
import type { FailureDetails } from './model';

export { OPERATIONS, type ErrorClass, type Operation } from './failureTable';

// Kept beside the error rather than on it: the error stays the very object its thrower made, so
// `instanceof` checks further up (StaleBlobError, JobConflictError) still see it.
const operations = new WeakMap<object, Operation>();

/**
 * Awaits `work`; an error it throws is remembered as arising in `operation`. The innermost operation
 * wins, as it is the most precise.
 */
export async function during<T>(operation: Operation, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (typeof error === 'object' && error !== null && !operations.has(error)) {
      operations.set(error, operation);
    }
    throw error;
  }
}

/**
 * The class of `error` by the first row of the table that matches. The operation is the one `during`
 * recorded for the error, else `context.operation` (what the caller was doing as a whole).
 */
export function classifyError(error: unknown, context: { operation?: Operation } = {}): ErrorClass {
  const recorded = typeof error === 'object' && error !== null ? operations.get(error) : undefined;
  return failureRowFor(error).then(error, targetOf(error, recorded ?? context.operation));
}

/** Failure details when a unit ran out of retries on transient faults. */
export function retriesExhausted(what: string): FailureDetails {
  return { reason: `${what} stayed unavailable after every retry.`, statusCode: 503 };
}

/** Failure details when a unit's orchestration threw instead of returning its result. */
export function unitOrchestrationFailed(resourceType: string): FailureDetails {
  return { reason: `Exporting ${resourceType}: its orchestration failed unexpectedly.`, statusCode: 500 };
}

/**
 * Failure details when a unit's page kept ending without writing: its commit or checkpoint was
 * refused every time, so the unit's file or progress keeps changing under it (written to by
 * something else); looping on would never end.
 */
export function noProgress(what: string, attempts: number): FailureDetails {
  return {
    reason: `${what}: no page could be written in ${attempts} attempts in a row; its file or progress record keeps changing.`,
    statusCode: 500,
  };
}

/**
 * Failure details when the job's orchestration itself threw: a lane that failed outright, or an
 * activity past every retry. Only the error's class name goes in: its message may carry data.
 */
export function orchestrationFailed(error: unknown): FailureDetails {
  return { reason: `The export's orchestration failed unexpectedly (${nameOf(error)}).`, statusCode: 500 };
}

/** How a job's orchestration can have ended while the job record still says Queued or Running. */
export type OrchestrationEnd = 'completed' | 'failed' | 'terminated' | 'gone';

/** Failure details of a job whose orchestration ended without recording the job's end. */
export function orchestrationEnded(end: OrchestrationEnd): FailureDetails {
  const what: Record<OrchestrationEnd, string> = {
    completed: 'ended without recording the end of the export',
    failed: 'failed before it could record the end of the export',
    terminated: 'was terminated outside the export API',
    gone: 'no longer exists (its history was purged, or it never started)',
  };
  return { reason: `The export's orchestration ${what[end]}.`, statusCode: 500 };
}
