/**
 * Pure planning for the FHIR REST source: which FHIR searches make up one export unit, the
 * continuation token that says where we are among them, and the checks on what the source sends back.
 *
 * A unit (one resource type with its filters and patient compartment) is an ordered list of
 * queries: every `_typeFilter` query (or none) combined with every batch of compartment references
 * (or none). Their results are OR-ed; a resource returned by query i is skipped when it also matches
 * one of the queries before i, so every resource is written exactly once.
 */
import { FORBIDDEN_FILTER_PARAMETERS } from '../export/kickoffRequest';
import { BadRequestError, SourceError } from '../export/errors';
import { FHIR_SOURCE } from '../settings/fhirSourceSettings';
import type { SearchParameters } from './searchSource';
import type { ResumePoint, SearchPosition, Unresumable } from './searchResume';
import { patientCompartmentParams } from './patientCompartment';

/** One search condition, `name=value` as FHIR search syntax (already unescaped from the URL). */
export type QueryParam = readonly [name: string, value: string];

export interface PlannedQuery {
  /** Index of the `_typeFilter` query this query comes from (0 when there are no filters). */
  filter: number;
  /** Compartment condition: the linking parameter and the references of this batch. */
  compartment?: { param: string; refs: readonly string[] };
  /** Filter conditions followed by the compartment condition; no window, no `_count`. */
  conditions: readonly QueryParam[];
}

export interface SearchPlan {
  resourceType: string;
  queries: PlannedQuery[];
  /** Whether a resource of query i may also match a query before it (so checks are needed). */
  overlapping: boolean;
}

/**
 * Where a unit's export stands: query `q` of the plan, that query's next page (absent: its first),
 * and what it takes to resume that query if the source lets it expire (see searchResume.ts).
 */
export interface SearchCursor extends SearchPosition {
  q: number;
  next?: string;
}

const RESOURCE_TYPE = /^[A-Z][A-Za-z]{1,63}$/;
const RESOURCE_ID = /^[A-Za-z0-9.-]{1,64}$/;
/** Version 1 cursors (from before searches were sorted and followed) still decode, as `untracked`. */
const CURSOR_VERSION = 2;

/** Default number of patient references per compartment query. */
export const DEFAULT_COMPARTMENT_BATCH = FHIR_SOURCE.compartmentBatchSize.default;

export function assertResourceType(resourceType: string): void {
  if (!RESOURCE_TYPE.test(resourceType)) throw new BadRequestError(`invalid resource type "${resourceType}"`);
}

export function assertResourceId(id: string): void {
  if (!RESOURCE_ID.test(id)) throw new BadRequestError(`invalid resource id "${id}"`);
}

/**
 * Parses one `_typeFilter` query (`Type?a=b&c=d` or `a=b&c=d`) into its conditions.
 * Throws BadRequestError for another type's filter or for result-shaping parameters.
 */
export function parseTypeFilter(resourceType: string, filter: string): QueryParam[] {
  let query = filter.trim();
  const mark = query.indexOf('?');
  if (mark >= 0) {
    const prefix = query.slice(0, mark);
    if (prefix !== resourceType) {
      throw new BadRequestError(`_typeFilter "${filter}" is not a query on ${resourceType}`);
    }
    query = query.slice(mark + 1);
  }
  const conditions: QueryParam[] = [];
  for (const [name, value] of new URLSearchParams(query)) {
    if (name === '') continue;
    const base = name.split(':')[0];
    if (FORBIDDEN_FILTER_PARAMETERS.has(base)) {
      throw new BadRequestError(`_typeFilter may not use ${base} (in "${filter}")`);
    }
    conditions.push([name, value]);
  }
  return conditions;
}

/** Normalises `Patient/123` references (deduplicated, order kept); rejects anything else. */
export function normalisePatientRefs(patients: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const raw of patients) {
    const ref = raw.trim();
    const id = ref.startsWith('Patient/') ? ref.slice('Patient/'.length) : '';
    if (!RESOURCE_ID.test(id)) throw new BadRequestError(`invalid patient reference "${raw}"`);
    seen.add(`Patient/${id}`);
  }
  return [...seen];
}

/** The ordered queries of one export unit; an empty plan when the unit can have no results. */
export function planSearch(
  resourceType: string,
  params: Pick<SearchParameters, 'typeFilters' | 'patients'>,
  compartmentBatch: number = DEFAULT_COMPARTMENT_BATCH,
): SearchPlan {
  assertResourceType(resourceType);
  const filters =
    params.typeFilters.length > 0 ? params.typeFilters.map((f) => parseTypeFilter(resourceType, f)) : [[]];
  const queries: PlannedQuery[] = [];
  if (params.patients === undefined) {
    filters.forEach((conditions, filter) => queries.push({ filter, conditions }));
    return { resourceType, queries, overlapping: queries.length > 1 };
  }
  const refs = normalisePatientRefs(params.patients);
  const linking = patientCompartmentParams(resourceType);
  const batchSize = Math.max(1, Math.floor(compartmentBatch));
  const batches: string[][] = [];
  for (let i = 0; i < refs.length; i += batchSize) batches.push(refs.slice(i, i + batchSize));
  filters.forEach((conditions, filter) => {
    for (const param of linking) {
      for (const batch of batches) {
        const value = param === '_id' ? batch.map((r) => r.slice('Patient/'.length)) : batch;
        queries.push({
          filter,
          compartment: { param, refs: batch },
          conditions: [...conditions, [param, value.join(',')]],
        });
      }
    }
  });
  // Patients by `_id` in disjoint batches never overlap; everything else may.
  const overlapping =
    queries.length > 1 && !(filters.length === 1 && linking.length === 1 && linking[0] === '_id');
  return { resourceType, queries, overlapping };
}

/**
 * For a page of query `index`: groups of conditions that together cover every earlier query.
 * Earlier queries that differ only in their compartment batch are merged into one group
 * (`param=all their references`), so a page needs at most filters × parameters checks.
 */
export function earlierQueryGroups(plan: SearchPlan, index: number): QueryParam[][] {
  const groups = new Map<
    string,
    { filterConditions: readonly QueryParam[]; param?: string; refs: string[] }
  >();
  for (let j = 0; j < index && j < plan.queries.length; j++) {
    const query = plan.queries[j];
    const key = `${query.filter}|${query.compartment?.param ?? ''}`;
    let group = groups.get(key);
    if (!group) {
      const filterConditions = query.compartment ? query.conditions.slice(0, -1) : query.conditions;
      group = { filterConditions, param: query.compartment?.param, refs: [] };
      groups.set(key, group);
    }
    if (query.compartment) group.refs.push(...query.compartment.refs);
  }
  return [...groups.values()].map((group) => {
    if (group.param === undefined) return [...group.filterConditions];
    const values = group.param === '_id' ? group.refs.map((r) => r.slice('Patient/'.length)) : group.refs;
    return [...group.filterConditions, [group.param, values.join(',')] as QueryParam];
  });
}

/** Encodes the position in a unit as the continuation token (compact JSON). */
export function encodeCursor(cursor: SearchCursor): string {
  const { q, next, at, stuck, resuming, idle } = cursor;
  return JSON.stringify({
    v: CURSOR_VERSION,
    q,
    ...(next !== undefined ? { next } : {}),
    ...(at ? { at: { t: at.t, ids: at.ids, ...(at.full ? { full: true } : {}) } } : {}),
    ...(stuck ? { stuck } : {}),
    ...(resuming ? { resuming } : {}),
    ...(idle ? { idle } : {}),
  });
}

const UNRESUMABLE = new Set<Unresumable>(['untracked', 'unsorted', 'undated']);

/** Decodes a continuation token made by `encodeCursor`; throws for anything else. */
export function decodeCursor(token: string): SearchCursor {
  let value: unknown;
  try {
    value = JSON.parse(token);
  } catch {
    throw new Error('invalid continuation token for the FHIR REST source (not JSON)');
  }
  const record = value as Partial<Record<keyof SearchCursor | 'v', unknown>> | null;
  if (
    typeof record !== 'object' ||
    record === null ||
    (record.v !== CURSOR_VERSION && record.v !== 1) ||
    typeof record.q !== 'number' ||
    !Number.isInteger(record.q) ||
    record.q < 0 ||
    (record.next !== undefined && typeof record.next !== 'string') ||
    (record.at !== undefined && !isResumePoint(record.at)) ||
    (record.stuck !== undefined && !UNRESUMABLE.has(record.stuck as Unresumable)) ||
    (record.resuming !== undefined && record.resuming !== true) ||
    (record.idle !== undefined && record.idle !== true)
  ) {
    throw new Error('invalid continuation token for the FHIR REST source');
  }
  const cursor: SearchCursor = { q: record.q };
  if (record.next === undefined) return cursor;
  cursor.next = record.next;
  // A version 1 search was neither sorted nor followed: where it stands is unknown.
  if (record.v === 1) return { ...cursor, stuck: 'untracked' };
  if (record.at !== undefined) cursor.at = record.at as ResumePoint;
  if (record.stuck !== undefined) cursor.stuck = record.stuck as Unresumable;
  if (record.resuming === true) cursor.resuming = true;
  if (record.idle === true) cursor.idle = true;
  return cursor;
}

function isResumePoint(value: unknown): value is ResumePoint {
  const at = value as Partial<Record<keyof ResumePoint, unknown>> | null;
  return (
    typeof at === 'object' &&
    at !== null &&
    typeof at.t === 'string' &&
    Array.isArray(at.ids) &&
    at.ids.every((id) => typeof id === 'string') &&
    (at.full === undefined || at.full === true)
  );
}

/**
 * The query of a search's first page: its conditions, the `_lastUpdated` window (from `since`,
 * or from `resumeAt` for a resumed search), sorted by `_lastUpdated` so that it can be resumed.
 */
export function searchQuery(
  conditions: readonly QueryParam[],
  params: Pick<SearchParameters, 'since' | 'until' | 'before'>,
  count: number,
  resumeAt?: string,
): QueryParam[] {
  const query: QueryParam[] = [...conditions];
  const since = resumeAt ?? params.since;
  if (since !== undefined) query.push(['_lastUpdated', `ge${since}`]);
  query.push(['_lastUpdated', `le${params.until}`]);
  if (params.before !== undefined) query.push(['_lastUpdated', `lt${params.before}`]);
  query.push(['_sort', '_lastUpdated'], ['_count', String(count)]);
  return query;
}

/**
 * Accepts a link from the source only when it stays on the configured base: same origin (scheme,
 * host, port), a path under the base path, no credentials. Anything else is a non-transient 502,
 * raised before any request is sent to it.
 */
export function assertLinkWithinBase(link: string, baseUrl: string): URL {
  let url: URL;
  try {
    // Relative links are resolved against the base; absolute ones must stay on it.
    url = new URL(link, `${baseUrl.replace(/\/+$/, '')}/`);
  } catch {
    throw new SourceError('source returned an invalid next link', 502, false);
  }
  const base = new URL(baseUrl);
  const basePath = base.pathname.replace(/\/+$/, '');
  const inPath = url.pathname === basePath || url.pathname.startsWith(`${basePath}/`);
  if (url.origin !== base.origin || !inPath || url.username !== '' || url.password !== '') {
    throw new SourceError(
      `source returned a next link outside its base URL (${url.origin}${url.pathname}); refusing to follow it`,
      502,
      false,
    );
  }
  return url;
}

/** Percent-encodes a query the way FHIR servers expect: `,` `|` `:` `/` `$` stay literal. */
export function encodeQuery(params: readonly QueryParam[]): string {
  const encode = (text: string) =>
    encodeURIComponent(text)
      .replace(/%2C/gi, ',')
      .replace(/%7C/gi, '|')
      .replace(/%3A/gi, ':')
      .replace(/%2F/gi, '/')
      .replace(/%24/gi, '$');
  return params.map(([name, value]) => `${encode(name)}=${encode(value)}`).join('&');
}

/** The URL with `_count` set to `count` (replacing any `_count` it had). */
export function withCount(url: string, count: number): string {
  const parsed = new URL(url);
  const kept = [...parsed.searchParams].filter(([name]) => name !== '_count');
  kept.push(['_count', String(count)]);
  parsed.search = encodeQuery(kept);
  return parsed.toString();
}

/** The `_count` of a URL, if it has a valid one. */
export function countOf(url: string): number | undefined {
  const value = Number(new URL(url).searchParams.get('_count'));
  return Number.isInteger(value) && value > 0 ? value : undefined;
}
