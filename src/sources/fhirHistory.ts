/**
 * Reading deletions from a FHIR server's type history (`GET [base]/[type]/_history`): which types
 * offer it, and which resources a history page shows as deleted within a window. Pure functions.
 *
 * A deletion in a history Bundle is an entry whose `request.method` is `DELETE`, or, from servers
 * that leave `request` out, an entry without a resource whose `response.status` is `410`. Its id is
 * read from `request.url` (`Type/id` or `Type/id/_history/v`), else from `fullUrl`; its time from
 * `response.lastModified`.
 */
import { SourceError } from '../export/errors';
import { compareInstants, utcInstant } from '../export/instant';
import type { DeletedResource } from './deletionSource';
import { typesWithInteraction } from './fhirCapabilities';
import { isRecord } from './responseText';

/** Types whose server REST entry in a CapabilityStatement offers the `history-type` interaction. */
export function historyTypes(capabilityStatement: unknown): Set<string> {
  return new Set(typesWithInteraction(capabilityStatement, 'history-type'));
}

export interface HistoryDeletions {
  /** Resources whose latest change on this page, up to `until`, is a deletion at or after `since`. */
  deleted: DeletedResource[];
  /** The Bundle's `next` link, as given. */
  next?: string;
}

interface Change {
  deleted: boolean;
  at?: string;
  order: number;
}

/**
 * The deletions a history page shows for `resourceType` within [since, until]. Each id counts once,
 * by its latest change on the page that is not after `until` (by time; entries without a time by
 * their place, history being newest first): a resource deleted and created again stays out.
 */
export function historyDeletions(
  bundle: unknown,
  resourceType: string,
  window: { since: string; until: string },
): HistoryDeletions {
  if (!isRecord(bundle) || bundle.resourceType !== 'Bundle') {
    throw new SourceError('source answered a history request with something other than a Bundle', 502, false);
  }
  const entries = bundle.entry ?? [];
  if (!Array.isArray(entries))
    throw new SourceError('source returned a history Bundle whose entry is not an array', 502, false);
  const latest = new Map<string, Change>();
  entries.forEach((entry: unknown, order) => {
    if (!isRecord(entry)) return;
    const id = entryId(entry, resourceType);
    if (id === undefined) return;
    const response = isRecord(entry.response) ? entry.response : {};
    const at = typeof response.lastModified === 'string' ? utcInstant(response.lastModified) : undefined;
    if (at !== undefined && compareInstants(at, window.until) > 0) return;
    const change: Change = { deleted: isDeletion(entry, response), at, order };
    const held = latest.get(id);
    if (!held || isLater(change, held)) latest.set(id, change);
  });
  const deleted: DeletedResource[] = [];
  for (const [id, change] of latest) {
    if (!change.deleted) continue;
    if (change.at !== undefined && compareInstants(change.at, window.since) < 0) continue;
    deleted.push(change.at !== undefined ? { id, deletedAt: change.at } : { id });
  }
  return { deleted, next: nextLink(bundle) };
}

function isDeletion(entry: Record<string, unknown>, response: Record<string, unknown>): boolean {
  const request = isRecord(entry.request) ? entry.request : undefined;
  if (request && typeof request.method === 'string') return request.method.toUpperCase() === 'DELETE';
  return entry.resource === undefined && /^410\b/.test(String(response.status ?? ''));
}

/** A later change than `held`: by time when both have one, else the earlier place on the page. */
function isLater(change: Change, held: Change): boolean {
  if (change.at !== undefined && held.at !== undefined) {
    const order = compareInstants(change.at, held.at);
    if (order !== 0) return order > 0;
    return change.deleted && !held.deleted;
  }
  return false;
}

const REFERENCE = /(?:^|\/)([A-Z][A-Za-z]{1,63})\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/?#]+)?(?:[?#].*)?$/;

/** The id of an entry about `resourceType`, from its request URL, its resource or its full URL. */
function entryId(entry: Record<string, unknown>, resourceType: string): string | undefined {
  const request = isRecord(entry.request) ? entry.request : {};
  for (const url of [request.url, entry.fullUrl]) {
    if (typeof url !== 'string') continue;
    const match = REFERENCE.exec(url);
    if (match) return match[1] === resourceType ? match[2] : undefined;
  }
  const resource = entry.resource;
  if (isRecord(resource) && resource.resourceType === resourceType && typeof resource.id === 'string')
    return resource.id;
  return undefined;
}

function nextLink(bundle: Record<string, unknown>): string | undefined {
  const links = Array.isArray(bundle.link) ? bundle.link : [];
  const next = links.find((l: unknown) => isRecord(l) && l.relation === 'next' && typeof l.url === 'string');
  return isRecord(next) ? (next.url as string) : undefined;
}
