/**
 * The kick-off's check of `_type` and `_typeFilter` against the types the data source supports, so
 * that a type the source lacks is a 400 at once instead of a job that fails later (see
 * `SearchSource.supportedTypes`).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExportDeps } from './exportDeps';
import { BadRequestError, ServiceUnavailableError, SourceError } from './errors';
import type { ParsedKickoff } from './kickoffRequest';

/** Tries of the source at one kick-off, and the waits between them. */
const ATTEMPTS = 3;
const RETRY_DELAYS_MS = [200, 800];
/** No further try once this much time has passed (a source that hangs until its deadline). */
const RETRY_BUDGET_MS = 5_000;
/** A `Retry-After` up to this is waited out here; a longer one goes back to the client. */
const MAX_INLINE_WAIT_SECONDS = 1;
/** The `Retry-After` of a 503 when the source named none. */
const DEFAULT_RETRY_AFTER_SECONDS = 10;

/**
 * Drops from `kickoff.request` each type the source does not support, with a warning under
 * `handling=lenient`; otherwise such a type is a 400 naming it. A `_type` left empty is a 400 too.
 * When the source cannot say which types it supports, the answer is a 503 (down, with Retry-After)
 * or a 502 (its answer is unusable): never a job accepted blindly.
 */
export async function checkTypesWithSource(deps: ExportDeps, kickoff: ParsedKickoff): Promise<void> {
  const { request } = kickoff;
  const named = [...new Set([...request.types, ...Object.keys(request.typeFilters)])];
  const listTypes = deps.source.supportedTypes?.bind(deps.source);
  if (named.length === 0 || !listTypes) return;
  const supported = new Set(await typesAtKickoff(deps, listTypes));
  const unsupported = named.filter((type) => !supported.has(type)).sort();
  if (unsupported.length === 0) return;
  if (!kickoff.lenient) {
    const where = [
      request.types.some((type) => unsupported.includes(type)) && '_type',
      unsupported.some((type) => type in request.typeFilters) && '_typeFilter',
    ]
      .filter(Boolean)
      .join(' and ');
    throw new BadRequestError(
      `The data source does not support ${unsupported.join(', ')} (named in ${where}).`,
      'not-supported',
    );
  }
  for (const type of unsupported) {
    kickoff.warnings.push(`Ignored ${type}: the data source does not support it.`);
    delete request.typeFilters[type];
  }
  if (request.types.length > 0) {
    request.types = request.types.filter((type) => supported.has(type));
    if (request.types.length === 0)
      throw new BadRequestError('_type names no resource type that the data source supports.');
  }
}

/** The source's types, tried a few times over a brief outage; an error the client can act on. */
async function typesAtKickoff(deps: ExportDeps, listTypes: () => Promise<string[]>): Promise<string[]> {
  const start = deps.now().getTime();
  for (let attempt = 1; ; attempt++) {
    try {
      return await listTypes();
    } catch (error) {
      if (!(error instanceof SourceError)) throw error;
      if (!error.transient) {
        throw new SourceError(
          `The data source cannot tell which resource types it supports, so the export cannot be checked: ${error.message}`,
          502,
          false,
        );
      }
      const asked = error.retryAfterSeconds;
      const late = deps.now().getTime() - start >= RETRY_BUDGET_MS;
      if (attempt >= ATTEMPTS || late || (asked ?? 0) > MAX_INLINE_WAIT_SECONDS) {
        throw new ServiceUnavailableError(
          `The data source is unavailable, so the export cannot be checked; retry later (${error.message}).`,
          Math.max(1, asked ?? DEFAULT_RETRY_AFTER_SECONDS),
        );
      }
      await sleep(asked !== undefined ? asked * 1000 : RETRY_DELAYS_MS[attempt - 1]);
    }
  }
}
