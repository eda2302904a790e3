/**
 * Decides what an error means for a job: worth retrying, a wait the source asked for, or a failure
 * with the reason and status the client will see. Unknown errors never leak their message.
 */
import { ExportError, SourceError } from './errors';
import type { FailureDetails } from './model';

export type ErrorClass =
  | { kind: 'transient'; message: string }
  | { kind: 'throttled'; retryAfterSeconds: number; message: string }
  | { kind: 'permanent'; failure: FailureDetails };

export const UNKNOWN_ERROR: FailureDetails = { reason: 'Unknown error', statusCode: 500 };

const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

export function classifyError(error: unknown): ErrorClass {
  if (error instanceof SourceError && error.transient) {
    if (error.retryAfterSeconds !== undefined) {
      return { kind: 'throttled', retryAfterSeconds: error.retryAfterSeconds, message: error.message };
    }
    return { kind: 'transient', message: error.message };
  }
  // Every other typed error (a permanent source fault, an unreachable destination, …) carries its status.
  if (error instanceof ExportError) {
    return { kind: 'permanent', failure: { reason: error.message, statusCode: error.statusCode } };
  }
  // Azure SDK errors (RestError) carry statusCode/code; server-side and network faults are transient.
  const status = (error as { statusCode?: unknown })?.statusCode;
  const code = (error as { code?: unknown })?.code;
  if (
    (typeof status === 'number' && (status >= 500 || status === 408 || status === 429)) ||
    (typeof code === 'string' && TRANSIENT_NETWORK_CODES.has(code))
  ) {
    return { kind: 'transient', message: error instanceof Error ? error.message : String(error) };
  }
  return { kind: 'permanent', failure: UNKNOWN_ERROR };
}

/** Failure details when a unit ran out of retries on transient faults. */
export function retriesExhausted(what: string): FailureDetails {
  return { reason: `${what} stayed unavailable after every retry.`, statusCode: 503 };
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
