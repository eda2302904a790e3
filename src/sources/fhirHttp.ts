/**
 * The HTTP layer of the FHIR REST source: one request at a time over keep-alive sockets
 * (`httpTransport.ts`), with a deadline covering headers and body, a byte budget on the body, one
 * credential refresh on 401, and every failure mapped to a `SourceError` (transient or not).
 * It never sleeps for `Retry-After`: it reports the wait and the caller schedules it.
 */
import { SourceError } from '../export/errors';
import type { SourceAuth } from './sourceAuth';
import { HttpDeadlineError, ResponseTooLargeError, sendHttp, type HttpAnswer } from './httpTransport';
import type { BufferPool } from '../util/bufferPool';
import { parseSearchsetBytes } from './searchsetScanner';
import { isRecord, outcomeText, parseRetryAfter, sanitizeMessage } from './responseText';

export { ResponseTooLargeError } from './httpTransport';

/** Longest source message we pass on (the source's OperationOutcome text, trimmed). */
/** How much of an error response we read to find its OperationOutcome. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

export interface FhirHttpOptions {
  /** Milliseconds for the whole exchange (connect, headers and body). */
  timeoutMs: number;
  auth: SourceAuth;
  /** Memory that the bodies of `rawResources` requests are read into (see `FhirJsonResponse.memory`). */
  pagePool?: BufferPool;
  /** The clock (epoch ms) an HTTP-date `Retry-After` is measured against; default `Date.now`. */
  now?: () => number;
}

export interface FhirRequestOptions {
  /** Abort the body read (ResponseTooLargeError) once it passes this many bytes. */
  maxBytes: number;
  /** `GET` by default; `POST` sends `form` as application/x-www-form-urlencoded. */
  method?: 'GET' | 'POST';
  form?: URLSearchParams;
  /** Statuses that are returned as `{ status }` instead of thrown (e.g. 404 and 410 for a read). */
  passStatuses?: number[];
  /**
   * Keep the resources of a searchset's entries as their JSON bytes (`RawResource`, see
   * searchsetScanner.ts) instead of building them: saves a parse and a stringify per resource.
   */
  rawResources?: boolean;
}

export interface FhirJsonResponse {
  status: number;
  /** Parsed JSON body; undefined for a passed-through status. */
  body: unknown;
  /**
   * The pooled memory the body was read into, when the parsed body's resources still point into it:
   * give it back to the pool once nothing reads those resources any more.
   */
  memory?: Buffer;
}

/** One instance per source, shared by all calls. */
export class FhirHttpClient {
  constructor(private readonly options: FhirHttpOptions) {}

  /** Sends the request and returns the parsed JSON body of a 2xx answer; throws `SourceError` otherwise. */
  async requestJson(url: string, request: FhirRequestOptions): Promise<FhirJsonResponse> {
    let refreshed = false;
    for (;;) {
      const authorization = await this.options.auth.authorization();
      const outcome = await this.exchange(url, request, authorization);
      if (outcome.kind === 'unauthorized' && !refreshed && this.options.auth.invalidate(authorization)) {
        refreshed = true;
        continue;
      }
      if (outcome.kind === 'unauthorized') throw outcome.error;
      return outcome.response;
    }
  }

  private async exchange(
    url: string,
    request: FhirRequestOptions,
    authorization: string | undefined,
  ): Promise<{ kind: 'ok'; response: FhirJsonResponse } | { kind: 'unauthorized'; error: SourceError }> {
    const headers: Record<string, string> = { accept: 'application/fhir+json, application/json;q=0.9' };
    if (authorization) headers.authorization = authorization;
    let body: string | undefined;
    if (request.method === 'POST') {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = (request.form ?? new URLSearchParams()).toString();
    }
    let answer: HttpAnswer | undefined;
    try {
      answer = await sendHttp(url, {
        method: request.method ?? 'GET',
        headers,
        body,
        timeoutMs: this.options.timeoutMs,
      });
      if (request.passStatuses?.includes(answer.status)) {
        answer.discard();
        return { kind: 'ok', response: { status: answer.status, body: undefined } };
      }
      if (answer.status < 200 || answer.status >= 300) {
        const error = await this.errorFor(answer);
        if (answer.status === 401) return { kind: 'unauthorized', error };
        throw error;
      }
      const pool = request.rawResources ? this.options.pagePool : undefined;
      const bytes = await answer.read(request.maxBytes, true, pool && ((size) => pool.acquire(size)));
      let parsed: unknown;
      let scanned = false;
      try {
        parsed = request.rawResources ? parseSearchsetBytes(bytes) : undefined;
        scanned = parsed !== undefined;
        if (!scanned) parsed = JSON.parse(bytes.toString('utf8'));
      } catch {
        pool?.release(bytes);
        // A truncated or garbled body is usually a proxy or connection hiccup: worth one more try.
        throw new SourceError('source returned a malformed response (invalid JSON)', 502, true);
      }
      if (!scanned) pool?.release(bytes); // nothing points into it
      const memory = pool && scanned ? { memory: bytes } : {};
      return { kind: 'ok', response: { status: answer.status, body: parsed, ...memory } };
    } catch (error) {
      if (error instanceof SourceError || error instanceof ResponseTooLargeError) throw error;
      if (error instanceof HttpDeadlineError) {
        throw new SourceError(`source did not answer within ${this.options.timeoutMs} ms`, 503, true);
      }
      throw new SourceError(`source connection failed (${networkReason(error)})`, 503, true);
    } finally {
      answer?.discard();
    }
  }

  private async errorFor(answer: HttpAnswer): Promise<SourceError> {
    const status = answer.status;
    let detail: string | undefined;
    try {
      const raw = await answer.read(MAX_ERROR_BODY_BYTES, false);
      detail = outcomeText(JSON.parse(raw.toString('utf8')));
    } catch {
      detail = undefined;
    }
    const reason = sanitizeMessage(detail ?? (answer.statusText || 'no details'));
    if (status >= 300 && status < 400) {
      return new SourceError(`source answered with an unexpected redirect (${status})`, 502, false);
    }
    if (status === 429 || status === 503) {
      const wait = parseRetryAfter(answer.header('retry-after'), (this.options.now ?? Date.now)());
      const what = status === 429 ? 'source is throttling requests' : 'source is unavailable';
      return new SourceError(`${what} (${status}): ${reason}`, 503, true, wait);
    }
    if (status === 408 || (status >= 500 && status !== 501 && status !== 505)) {
      return new SourceError(`source failed (${status}): ${reason}`, 503, true);
    }
    // 4xx, 501 and 505 will not change by repeating the request: fail with the source's status.
    const statusCode = status >= 500 ? 502 : status;
    return new SourceError(`source rejected the request (${status}): ${reason}`, statusCode, false);
  }
}

/** A short, credential-free reason for a network failure (the error code when there is one). */
function networkReason(error: unknown): string {
  const cause = isRecord(error) && 'cause' in error ? (error as { cause?: unknown }).cause : undefined;
  for (const candidate of [cause, error]) {
    if (isRecord(candidate) && typeof candidate.code === 'string') return candidate.code;
  }
  if (error instanceof Error) return sanitizeMessage(error.message, 120);
  return 'unknown network error';
}
