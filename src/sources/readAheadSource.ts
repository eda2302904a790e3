/**
 * A `SearchSource` decorator that reads one page ahead per unit.
 *
 * A page step is strictly sequential (search → stage → commit → checkpoint), so on its own an export
 * runs at about 1 / (1/read + 1/write) of the two sides' speeds. Once a page's search has returned,
 * its `nextToken` is known: this decorator starts fetching that next page in the background while
 * the current page is written, and hands the result to the next page step that asks for exactly the
 * same (type, parameters, token).
 *
 * Exactly-once does not depend on it: which resources a page holds is decided by the cursor saved
 * at the last checkpoint, because a read-ahead is only ever used for a search with that very token;
 * the source is bounded by `_lastUpdated <= transactionTime` either way. A read-ahead that fails is
 * dropped and the page step searches itself (its error, if any, is the one that counts), except when
 * the source asked for a wait (429/503 with Retry-After): until that wait is over, the page step
 * gets the throttling error with the time left, so the orchestrator waits it out on a durable timer
 * instead of the page step asking again at once. Entries are few (one per unit in flight, capped)
 * and expire, so memory stays at about one page per lane.
 */
import { SourceError } from '../export/errors';
import { ExpiringMap } from '../util/expiringMap';
import type { SearchPage, SearchParameters, SearchSource, SourceDescription } from './searchSource';

export interface ReadAheadOptions {
  /** Pages held at once; the oldest is dropped beyond it. Default 16. */
  maxEntries?: number;
  /** An unused read-ahead is dropped after this long. Default 120 s. */
  ttlMs?: number;
  /** Clock in epoch milliseconds (tests inject one). Default `Date.now`. */
  now?: () => number;
}

interface Entry {
  page: Promise<SearchPage | undefined>;
  /** The page once it is in (see `peek`). */
  ready?: SearchPage;
  /** When the source throttled the read-ahead: its error, and the clock time its wait ends. */
  throttled?: { error: SourceError; until: number };
}

export class ReadAheadSource implements SearchSource {
  /** Read-aheads nobody took yet; one that is let go gives its page's memory back once it is in. */
  private readonly entries: ExpiringMap<string, Entry>;
  /** Searches answered from a read-ahead / searched directly (for tests and diagnostics). */
  hits = 0;
  misses = 0;

  private readonly now: () => number;
  /** The inner source's, when it has them (a decorator must not claim what its source lacks). */
  readonly supportedTypes?: () => Promise<string[]>;

  constructor(
    private readonly inner: SearchSource,
    options: ReadAheadOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.supportedTypes = inner.supportedTypes?.bind(inner);
    this.entries = new ExpiringMap(options.maxEntries ?? 16, options.ttlMs ?? 120_000, (entry: Entry) => {
      void entry.page.then((page) => page?.release?.());
    });
  }

  listResourceTypes(): Promise<string[]> {
    return this.inner.listResourceTypes();
  }

  read(resourceType: string, id: string): Promise<Record<string, unknown> | undefined> {
    return this.inner.read(resourceType, id);
  }

  checkTypeFilter(resourceType: string, query: string): void {
    this.inner.checkTypeFilter(resourceType, query);
  }

  async describe(
    resourceType: string,
    params: SearchParameters,
    spanAbove?: number,
  ): Promise<SourceDescription> {
    return this.inner.describe ? this.inner.describe(resourceType, params, spanAbove) : {};
  }

  async search(
    resourceType: string,
    params: SearchParameters,
    continuationToken?: string,
  ): Promise<SearchPage> {
    const key = keyOf(resourceType, params, continuationToken);
    const entry = this.entries.take(key);
    let page = entry ? await entry.page : undefined;
    if (!page && entry?.throttled) throwIfWaiting(entry.throttled, this.now());
    if (page) {
      this.hits += 1;
    } else {
      this.misses += 1;
      page = await this.inner.search(resourceType, params, continuationToken);
    }
    if (page.nextToken !== undefined) this.readAhead(resourceType, params, page.nextToken);
    return page;
  }

  prefetch(resourceType: string, params: SearchParameters): void {
    this.readAhead(resourceType, params, undefined);
  }

  peek(resourceType: string, params: SearchParameters, continuationToken: string): SearchPage | undefined {
    return this.entries.get(keyOf(resourceType, params, continuationToken))?.ready;
  }

  private readAhead(resourceType: string, params: SearchParameters, token: string | undefined): void {
    const key = keyOf(resourceType, params, token);
    if (this.entries.has(key)) return;
    const entry: Entry = {
      page: this.inner.search(resourceType, params, token).catch((error: unknown) => {
        if (error instanceof SourceError && error.transient && error.retryAfterSeconds !== undefined) {
          entry.throttled = { error, until: this.now() + error.retryAfterSeconds * 1000 };
        }
        return undefined;
      }),
    };
    void entry.page.then((ready) => {
      if (ready) entry.ready = ready;
    });
    this.entries.set(key, entry);
  }
}

/** Throws the read-ahead's throttling error with the seconds of its wait still to go, if any. */
function throwIfWaiting(throttled: NonNullable<Entry['throttled']>, now: number): void {
  const left = Math.ceil((throttled.until - now) / 1000);
  if (left <= 0) return;
  const { message, statusCode } = throttled.error;
  throw new SourceError(message, statusCode, true, left);
}

function keyOf(resourceType: string, params: SearchParameters, token: string | undefined): string {
  return JSON.stringify([
    resourceType,
    token ?? null,
    params.since ?? null,
    params.until,
    params.before ?? null,
    params.typeFilters,
    params.patients ?? null,
    params.patientCompartmentOnly ?? false,
    params.count,
  ]);
}
