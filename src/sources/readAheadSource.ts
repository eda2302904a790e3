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
 * dropped and the page step searches itself (its error, if any, is the one that counts). Entries
 * are few (one per unit in flight, capped) and expire, so memory stays at about one page per lane.
 */
import { ExpiringMap } from '../util/expiringMap';
import type { SearchPage, SearchParameters, SearchSource, SourceDescription } from './searchSource';

export interface ReadAheadOptions {
  /** Pages held at once; the oldest is dropped beyond it. Default 16. */
  maxEntries?: number;
  /** An unused read-ahead is dropped after this long. Default 120 s. */
  ttlMs?: number;
}

interface Entry {
  page: Promise<SearchPage | undefined>;
  /** The page once it is in (see `peek`). */
  ready?: SearchPage;
}

export class ReadAheadSource implements SearchSource {
  /** Read-aheads nobody took yet; one that is let go gives its page's memory back once it is in. */
  private readonly entries: ExpiringMap<string, Entry>;
  /** Searches answered from a read-ahead / searched directly (for tests and diagnostics). */
  hits = 0;
  misses = 0;

  constructor(
    private readonly inner: SearchSource,
    options: ReadAheadOptions = {},
  ) {
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
    const ahead = this.entries.take(key)?.page;
    let page = ahead ? await ahead : undefined;
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
    const page = this.inner.search(resourceType, params, token).catch(() => undefined);
    const entry: Entry = { page };
    void page.then((ready) => {
      if (ready) entry.ready = ready;
    });
    this.entries.set(key, entry);
  }
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
