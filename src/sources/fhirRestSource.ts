/**
 * `SearchSource` adapter for any FHIR R4 server over REST.
 *
 * A unit's export is a sequence of FHIR searches (see fhirSearchPlan.ts); the continuation token
 * names the search and that search's `next` link. Pages are read with a byte budget: a page over it
 * is fetched again with half the `_count`. Failures surface as `SourceError`s that say whether a
 * retry may help and how long the source asked us to wait; the adapter itself never waits.
 */
import type { TokenCredential } from '@azure/identity';
import { SourceError } from '../export/errors';
import { BufferPool } from '../util/bufferPool';
import { CachedValue } from '../util/cachedValue';
import { searchableTypes } from './fhirCapabilities';
import { FhirHttpClient, ResponseTooLargeError } from './fhirHttp';
import { isRecord } from './responseText';
import {
  QueryParam,
  SearchPlan,
  assertLinkWithinBase,
  assertResourceId,
  assertResourceType,
  countOf,
  decodeCursor,
  earlierQueryGroups,
  encodeCursor,
  encodeQuery,
  parseTypeFilter,
  planSearch,
  searchQuery,
  withCount,
} from './fhirSearchPlan';
import { followPage, resumeFrom, type SearchPosition } from './searchResume';
import { FhirSourceConfig, fhirSourceConfig } from './fhirSourceConfig';
import { laidOutNdjson, resourceLine } from './searchsetScanner';
import type {
  ResourceLine,
  SearchPage,
  SearchParameters,
  SearchSource,
  SourceDescription,
} from './searchSource';
import { createSourceAuth } from './sourceAuth';

export interface FhirRestSourceDeps {
  /** Azure credential for the `managed-identity` mode (tests inject a fake); default DefaultAzureCredential. */
  credential?: TokenCredential;
  /**
   * The clock (epoch ms) that token lifetimes and HTTP-date `Retry-After` values are measured against;
   * default `Date.now`. Tests inject a fixed one to get exact waits.
   */
  now?: () => number;
}

/** Longest URL sent as GET for a duplicate check; longer checks go as POST `_search`. */
const MAX_GET_URL = 4096;

interface FetchedBundle {
  bundle: Record<string, unknown>;
  /** The URL that produced it (with the `_count` finally used). */
  url: string;
  /** Pooled memory the bundle's resources point into. */
  memory?: Buffer;
}

/**
 * Free page memory kept for reuse. Pages in flight are about two per lane (the one being written and
 * the one read ahead), 2–4 MiB each at the default page size; those are not counted here.
 */
const FREE_PAGE_MEMORY_BYTES = 16 * 1024 * 1024;

export class FhirRestSource implements SearchSource {
  checkTypeFilter(resourceType: string, query: string): void {
    parseTypeFilter(resourceType, query);
  }

  readonly config: FhirSourceConfig;
  readonly http: FhirHttpClient;
  private readonly pagePool = new BufferPool(FREE_PAGE_MEMORY_BYTES);
  private readonly types: CachedValue<string[]>;

  constructor(config: Partial<FhirSourceConfig> & { baseUrl: string }, deps: FhirRestSourceDeps = {}) {
    this.config = fhirSourceConfig(config);
    const auth = createSourceAuth(this.config.auth, this.config.baseUrl, {
      credential: deps.credential,
      timeoutMs: this.config.timeoutMs,
      now: deps.now,
    });
    this.http = new FhirHttpClient({
      timeoutMs: this.config.timeoutMs,
      auth,
      pagePool: this.pagePool,
      now: deps.now,
    });
    this.types = new CachedValue(
      this.config.typesCacheSeconds * 1000,
      () => this.listResourceTypes(),
      deps.now,
    );
  }

  /**
   * The configured types, else the types the CapabilityStatement lists with type-level search
   * (see fhirCapabilities.ts).
   */
  async listResourceTypes(): Promise<string[]> {
    if (this.config.defaultTypes.length > 0) return [...this.config.defaultTypes].sort();
    return searchableTypes(this.http, this.config.baseUrl, this.config.maxPageBytes);
  }

  /** `listResourceTypes`, kept for `FHIR_SOURCE_TYPES_CACHE_SECONDS` so kick-offs seldom ask. */
  supportedTypes(): Promise<string[]> {
    return this.types.get();
  }

  async read(resourceType: string, id: string): Promise<Record<string, unknown> | undefined> {
    assertResourceType(resourceType);
    assertResourceId(id);
    const { status, body } = await this.http.requestJson(`${this.config.baseUrl}/${resourceType}/${id}`, {
      maxBytes: this.config.maxPageBytes,
      passStatuses: [404, 410],
    });
    if (status === 404 || status === 410) return undefined;
    if (!isRecord(body) || body.resourceType !== resourceType) {
      throw new SourceError(
        `source returned something other than a ${resourceType} for ${resourceType}/${id}`,
        502,
        false,
      );
    }
    return body;
  }

  async search(
    resourceType: string,
    params: SearchParameters,
    continuationToken?: string,
  ): Promise<SearchPage> {
    const plan = planSearch(resourceType, params, this.config.compartmentBatchSize);
    const cursor = continuationToken === undefined ? { q: 0 } : decodeCursor(continuationToken);
    if (cursor.q >= plan.queries.length) {
      if (plan.queries.length === 0 && cursor.q === 0) return { resources: [], total: 0 };
      throw new Error('continuation token does not belong to this search');
    }
    const count = Math.max(1, Math.floor(params.count));
    const conditions = plan.queries[cursor.q].conditions;
    let position: SearchPosition = cursor;
    let fetched: FetchedBundle;
    if (cursor.next === undefined) {
      fetched = await this.newSearch(resourceType, searchQuery(conditions, params, count), count);
    } else {
      try {
        const nextUrl = assertLinkWithinBase(cursor.next, this.config.baseUrl).toString();
        fetched = await this.fetchPage(resourceType, nextUrl, undefined);
      } catch (error) {
        // The source dropped the search (e.g. its search cache timed out): start it again where it stood.
        if (!(error instanceof SourceError && error.statusCode === 410)) throw error;
        position = resumeFrom(resourceType, cursor);
        const query = searchQuery(conditions, params, count, position.at?.t);
        fetched = await this.newSearch(resourceType, query, count);
      }
    }
    const { bundle, url, memory } = fetched;

    const followed = followPage(resourceType, position, matchedResources(bundle, resourceType));
    const matched = followed.kept;
    const seen =
      plan.overlapping && cursor.q > 0 && matched.length > 0
        ? await this.matchingEarlierQueries(plan, cursor.q, matched)
        : undefined;
    const resources = seen ? matched.filter((r) => !seen.has(r.id as string)) : matched;

    const next = nextLink(bundle);
    let nextToken: string | undefined;
    if (next !== undefined) {
      nextToken = encodeCursor({
        q: cursor.q,
        next: assertLinkWithinBase(next, this.config.baseUrl).toString(),
        ...followed.position,
      });
    } else if (cursor.q + 1 < plan.queries.length) {
      nextToken = encodeCursor({ q: cursor.q + 1 });
    }

    // Scanned resources are the source's own (compact) JSON bytes: no string, no stringify round trip,
    // and usually already one NDJSON block. Their lines are views made only if someone reads them:
    // with the block at hand the page step does not.
    let lines: ResourceLine[] | undefined;
    const page: SearchPage = {
      get resources() {
        return (lines ??= resources.map(resourceLine));
      },
    };
    const ndjson = laidOutNdjson(bundle, resources);
    if (ndjson) page.ndjson = { bytes: ndjson, lines: resources.length };
    if (memory) page.release = () => this.pagePool.release(memory);
    if (nextToken !== undefined) page.nextToken = nextToken;
    if (continuationToken === undefined && plan.queries.length === 1) {
      const total = typeof bundle.total === 'number' ? bundle.total : await this.countOnly(url);
      if (total !== undefined) page.total = total;
    }
    return page;
  }

  /**
   * The first page of a search. A 410 to it is the source's fault, not the request's: a search just
   * started cannot have expired.
   */
  private async newSearch(type: string, query: QueryParam[], count: number): Promise<FetchedBundle> {
    try {
      return await this.fetchPage(type, `${this.config.baseUrl}/${type}?${encodeQuery(query)}`, count);
    } catch (error) {
      if (!(error instanceof SourceError && error.statusCode === 410)) throw error;
      throw new SourceError(`source answered 410 Gone to a new search of ${type}`, 502, false);
    }
  }

  /**
   * `_summary=count` for the total and, above `spanAbove`, `_sort=_lastUpdated&_count=1` both ways for
   * the time span. Only for units that are one FHIR search (no OR-ed `_typeFilter`s, no compartment
   * batches); anything the server refuses or answers oddly means "cannot say" (no split). Transient
   * failures go up, to be retried like any other request.
   */
  async describe(resourceType: string, params: SearchParameters, spanAbove = 0): Promise<SourceDescription> {
    const plan = planSearch(resourceType, params, this.config.compartmentBatchSize);
    if (plan.queries.length !== 1) return {};
    const query = searchQuery(plan.queries[0].conditions, params, 1);
    const url = new URL(`${this.config.baseUrl}/${resourceType}?${encodeQuery(query)}`);
    const total = await this.countOnly(url.toString());
    if (total === undefined || total === 0 || total <= spanAbove) return { total };
    const [earliest, latest] = await Promise.all(
      ['_lastUpdated', '-_lastUpdated'].map((sort) => this.firstLastUpdated(url, sort, resourceType)),
    );
    if (earliest === undefined || latest === undefined || Date.parse(earliest) > Date.parse(latest))
      return { total };
    return { total, earliest, latest };
  }

  /** `meta.lastUpdated` of the first match when sorted by `sort`; undefined when it cannot be had. */
  private async firstLastUpdated(url: URL, sort: string, resourceType: string): Promise<string | undefined> {
    try {
      const sorted = new URL(url);
      const kept = [...sorted.searchParams].filter(([name]) => name !== '_count' && name !== '_sort');
      kept.push(['_sort', sort], ['_count', '1']);
      sorted.search = encodeQuery(kept);
      const { body } = await this.http.requestJson(sorted.toString(), { maxBytes: this.config.maxPageBytes });
      const [first] =
        isRecord(body) && body.resourceType === 'Bundle' ? matchedResources(body, resourceType) : [];
      const meta = first?.meta;
      const value = isRecord(meta) ? meta.lastUpdated : undefined;
      return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? value : undefined;
    } catch (error) {
      return cannotSay(error);
    }
  }

  /**
   * Fetches a searchset page; when its body passes the byte budget, fetches the same page again
   * with half the `_count`, down to one resource.
   */
  private async fetchPage(
    type: string,
    startUrl: string,
    requested: number | undefined,
  ): Promise<FetchedBundle> {
    let url = startUrl;
    let count = countOf(url) ?? requested;
    for (;;) {
      try {
        const { body, memory } = await this.http.requestJson(url, {
          maxBytes: this.config.maxPageBytes,
          rawResources: true,
        });
        return { bundle: asSearchBundle(body), url, ...(memory ? { memory } : {}) };
      } catch (error) {
        if (!(error instanceof ResponseTooLargeError)) throw error;
        if (count === 1) {
          throw new SourceError(
            `a single ${type} resource is larger than the page byte budget (${this.config.maxPageBytes} bytes); raise FHIR_SOURCE_MAX_PAGE_BYTES`,
            502,
            false,
          );
        }
        // Unknown count (an opaque link without _count): start halving from a conservative guess.
        count = count === undefined ? 50 : Math.max(1, Math.floor(count / 2));
        url = withCount(url, count);
      }
    }
  }

  /** Ids among `resources` that also match a query before `index` (already exported there). */
  private async matchingEarlierQueries(
    plan: SearchPlan,
    index: number,
    resources: Record<string, unknown>[],
  ): Promise<Set<string>> {
    const ids = resources.map((r) => r.id).filter((id): id is string => typeof id === 'string');
    const found = new Set<string>();
    for (const group of earlierQueryGroups(plan, index)) {
      const pending = ids.filter((id) => !found.has(id));
      if (pending.length === 0) break;
      const query: QueryParam[] = [
        ...group,
        ['_id', pending.join(',')],
        ['_count', String(pending.length)],
        ['_elements', 'id'],
      ];
      const encoded = encodeQuery(query);
      const getUrl = `${this.config.baseUrl}/${plan.resourceType}?${encoded}`;
      let body: unknown;
      try {
        body =
          getUrl.length <= MAX_GET_URL
            ? (await this.http.requestJson(getUrl, { maxBytes: this.config.maxPageBytes })).body
            : (
                await this.http.requestJson(`${this.config.baseUrl}/${plan.resourceType}/_search`, {
                  maxBytes: this.config.maxPageBytes,
                  method: 'POST',
                  form: new URLSearchParams(query as QueryParam[] as [string, string][]),
                })
              ).body;
      } catch (error) {
        if (error instanceof ResponseTooLargeError) {
          throw new SourceError(
            'duplicate check against the source exceeded the page byte budget',
            502,
            false,
          );
        }
        throw error;
      }
      for (const resource of matchedResources(asSearchBundle(body), plan.resourceType)) {
        if (typeof resource.id === 'string') found.add(resource.id);
      }
    }
    return found;
  }

  /** `_summary=count` for the unit's first page; undefined when the source cannot say. */
  private async countOnly(pageUrl: string): Promise<number | undefined> {
    try {
      const url = new URL(pageUrl);
      const kept = [...url.searchParams].filter(([name]) => !['_count', '_summary', '_sort'].includes(name));
      kept.push(['_summary', 'count']);
      url.search = encodeQuery(kept);
      const { body } = await this.http.requestJson(url.toString(), { maxBytes: 1024 * 1024 });
      return isRecord(body) && typeof body.total === 'number' ? body.total : undefined;
    } catch (error) {
      return cannotSay(error);
    }
  }
}

/** Factory with the production defaults (DefaultAzureCredential for managed identity). */
export function createFhirRestSource(
  config: Partial<FhirSourceConfig> & { baseUrl: string },
  deps: FhirRestSourceDeps = {},
): FhirRestSource {
  return new FhirRestSource(config, deps);
}

/** "Cannot say" for an optional lookup the source refused; a transient failure is rethrown. */
function cannotSay(error: unknown): undefined {
  if (error instanceof SourceError && error.transient) throw error;
  return undefined;
}

/** Checks that a body is a Bundle; a valid JSON answer of the wrong shape will not improve on retry. */
function asSearchBundle(body: unknown): Record<string, unknown> {
  if (!isRecord(body) || body.resourceType !== 'Bundle') {
    const what = isRecord(body) && typeof body.resourceType === 'string' ? body.resourceType : typeof body;
    throw new SourceError(`source returned a malformed Bundle (got ${what})`, 502, false);
  }
  if (body.entry !== undefined && !Array.isArray(body.entry)) {
    throw new SourceError('source returned a malformed Bundle (entry is not an array)', 502, false);
  }
  return body;
}

/** Resources of `type` from entries in `match` mode (or without a search mode). */
function matchedResources(bundle: Record<string, unknown>, type: string): Record<string, unknown>[] {
  const result: Record<string, unknown>[] = [];
  for (const entry of (bundle.entry as unknown[] | undefined) ?? []) {
    if (!isRecord(entry) || !isRecord(entry.resource)) continue;
    const mode = isRecord(entry.search) ? entry.search.mode : undefined;
    if (mode !== undefined && mode !== 'match') continue;
    if (entry.resource.resourceType !== type) continue;
    result.push(entry.resource);
  }
  return result;
}

function nextLink(bundle: Record<string, unknown>): string | undefined {
  if (!Array.isArray(bundle.link)) return undefined;
  for (const link of bundle.link) {
    if (isRecord(link) && link.relation === 'next' && typeof link.url === 'string' && link.url !== '')
      return link.url;
  }
  return undefined;
}
