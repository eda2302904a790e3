/**
 * Deletions from a FHIR server, read from its type history: `GET [base]/[type]/_history?_since=…`,
 * page by page along the Bundle's `next` links (see fhirHistory.ts for what counts as a deletion).
 * Only for types whose CapabilityStatement entry offers `history-type`; for others the source says
 * it cannot tell, and the manifest says so.
 *
 * A history page holds only the changes it holds: a resource deleted there and created again on a
 * later page (an older change comes later, history being newest first, so: created again after the
 * deletion) is caught by one search per page, `[type]?_id={candidates}&_lastUpdated=le{until}`,
 * whose matches exist at `until` and are exported as they are.
 */
import { SourceError } from '../export/errors';
import { CachedValue } from '../util/cachedValue';
import type { DeletionPage, DeletionSource, DeletionSupport, DeletionWindow } from './deletionSource';
import { ResponseTooLargeError } from './fhirHttp';
import { historyDeletions, historyTypes } from './fhirHistory';
import type { FhirRestSource } from './fhirRestSource';
import { assertLinkWithinBase, assertResourceType, encodeQuery } from './fhirSearchPlan';
import { isRecord } from './responseText';

/** Longest URL sent as GET for the check of re-created resources; longer ones go as POST `_search`. */
const MAX_GET_URL = 4096;

export class FhirDeletionSource implements DeletionSource {
  private readonly historyTypes: CachedValue<Set<string> | string>;

  constructor(
    private readonly source: FhirRestSource,
    now?: () => number,
  ) {
    this.historyTypes = new CachedValue(
      source.config.typesCacheSeconds * 1000,
      () => this.readHistoryTypes(),
      now,
    );
  }

  async deletionSupport(resourceType: string): Promise<DeletionSupport> {
    const types = await this.historyTypes.get();
    if (typeof types === 'string') return { supported: false, reason: types };
    return types.has(resourceType)
      ? { supported: true }
      : {
          supported: false,
          reason: `the FHIR server's CapabilityStatement does not offer type-level history (history-type) for ${resourceType}`,
        };
  }

  async deletions(
    resourceType: string,
    window: DeletionWindow,
    continuationToken?: string,
  ): Promise<DeletionPage> {
    assertResourceType(resourceType);
    const base = this.source.config.baseUrl;
    const url =
      continuationToken === undefined
        ? `${base}/${resourceType}/_history?${encodeQuery([
            ['_since', window.since],
            ['_count', String(window.count)],
          ])}`
        : assertLinkWithinBase(continuationToken, base).href;
    const page = historyDeletions(await this.get(url), resourceType, window);
    const existing = await this.existingAt(
      resourceType,
      page.deleted.map((d) => d.id),
      window.until,
    );
    const nextToken = page.next === undefined ? undefined : assertLinkWithinBase(page.next, base).href;
    return { deleted: page.deleted.filter((d) => !existing.has(d.id)), nextToken };
  }

  /** The ids among `ids` that exist with a version up to `until`. */
  private async existingAt(resourceType: string, ids: string[], until: string): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const query = encodeQuery([
      ['_id', ids.join(',')],
      ['_lastUpdated', `le${until}`],
      ['_elements', 'id'],
      ['_count', String(ids.length)],
    ]);
    const base = this.source.config.baseUrl;
    const getUrl = `${base}/${resourceType}?${query}`;
    const body =
      getUrl.length <= MAX_GET_URL
        ? await this.get(getUrl)
        : await this.get(`${base}/${resourceType}/_search`, new URLSearchParams(query));
    const entries = isRecord(body) && Array.isArray(body.entry) ? body.entry : [];
    const found = new Set<string>();
    for (const entry of entries) {
      const resource = isRecord(entry) && isRecord(entry.resource) ? entry.resource : undefined;
      if (resource?.resourceType === resourceType && typeof resource.id === 'string') found.add(resource.id);
    }
    return found;
  }

  private async get(url: string, form?: URLSearchParams): Promise<unknown> {
    const maxBytes = this.source.config.maxPageBytes;
    try {
      const { body } = await this.source.http.requestJson(url, {
        maxBytes,
        ...(form ? { method: 'POST' as const, form } : {}),
      });
      return body;
    } catch (error) {
      if (!(error instanceof ResponseTooLargeError)) throw error;
      throw new SourceError(
        `a history page of the source is larger than FHIR_SOURCE_MAX_PAGE_BYTES (${maxBytes} bytes)`,
        502,
        false,
      );
    }
  }

  /** The history types of the CapabilityStatement, or why they cannot be known. */
  private async readHistoryTypes(): Promise<Set<string> | string> {
    try {
      return historyTypes(await this.get(`${this.source.config.baseUrl}/metadata`));
    } catch (error) {
      if (error instanceof SourceError && !error.transient)
        return `the FHIR server's CapabilityStatement could not be read (${error.message})`;
      throw error;
    }
  }
}
