/**
 * Resuming a FHIR search that expired at the source: a `410 Gone` on one of its next links, as HAPI
 * answers once its search cache has dropped the search.
 *
 * Every search is sorted by `_lastUpdated` (see `searchQuery`), and the cursor keeps the search's
 * position in that order: the `meta.lastUpdated` of the last resource it returned and the ids it
 * returned at that instant (`ResumePoint`). An expired search is started again with
 * `_lastUpdated=ge{that instant}` and its other criteria; until it passes that instant, what it
 * returns before the instant, or at it under a kept id, was returned already and is skipped. The order
 * of resources within one instant does not matter, so a source that orders ties differently each
 * time still resumes exactly.
 *
 * A search whose position is not known exactly cannot be resumed, and its 410 fails the page as a
 * fault of the source (502): more than `MAX_RESUME_IDS` resources share its last instant, the source
 * did not sort it (an instant went backwards: `_sort` ignored), a resource had no `meta.lastUpdated`,
 * its cursor comes from a version that kept no position, or it is a resumed search that expired
 * again before returning anything new (resuming once more would go round forever).
 */
import { SourceError } from '../export/errors';
import { compareInstants, utcInstant } from '../export/instant';
import { lastUpdatedOf } from './rawResource';

/**
 * Most ids kept for one instant. A resource id has at most 64 characters, so the ids take at most
 * ~330 KB of the unit's progress document (Cosmos DB items hold 2 MB). Beyond it the position is
 * not exact and the search cannot be resumed until it reaches a later instant.
 */
export const MAX_RESUME_IDS = 5000;

/** The last instant a search returned, and the ids it returned at that instant. */
export interface ResumePoint {
  /** `meta.lastUpdated` as the source wrote it. */
  t: string;
  /** Ids of the resources at `t`, in the order returned; every one of them unless `full`. */
  ids: string[];
  /** More than `MAX_RESUME_IDS` resources share `t`: `ids` holds the first ones only. */
  full?: true;
}

/** Why a search's position is unknown for good: see the module comment. */
export type Unresumable = 'untracked' | 'unsorted' | 'undated';

/** What a search's cursor keeps to resume it (all absent: nothing returned yet). */
export interface SearchPosition {
  at?: ResumePoint;
  stuck?: Unresumable;
  /** A resumed search that has not passed `at.t` yet: what it returns is checked against `at`. */
  resuming?: true;
  /** A resumed search that has returned nothing new yet. */
  idle?: true;
}

const REASONS: Record<Unresumable, string> = {
  untracked: 'its cursor does not record where it stood',
  unsorted: 'the source did not return it sorted by _lastUpdated',
  undated: 'a resource it returned has no valid meta.lastUpdated (or no id)',
};

/**
 * Throws the page's failure when the search at `position` cannot be resumed after the source
 * answered 410 to its next link; returns the position the resumed search starts from.
 */
export function resumeFrom(resourceType: string, position: SearchPosition): SearchPosition {
  let why: string | undefined;
  if (position.stuck) why = REASONS[position.stuck];
  else if (position.idle) why = 'it expired again before the resumed search returned anything new';
  else if (position.at?.full)
    why = `more than ${MAX_RESUME_IDS} of its resources share meta.lastUpdated ${position.at.t}`;
  if (why !== undefined) {
    throw new SourceError(
      `the source's search of ${resourceType} expired (410 Gone) and cannot be resumed exactly: ${why}`,
      502,
      false,
    );
  }
  return { ...(position.at ? { at: position.at } : {}), resuming: true, idle: true };
}

/**
 * Follows a search over one page of its matches, in the order returned: the ones to keep (while
 * resuming, those not returned before the search expired) and the position after them. Every
 * resource's instant is checked against the one before; only the ids of the page's last instant are
 * collected (in a sorted page they are its tail), as this runs on every page.
 */
export function followPage<R extends Record<string, unknown>>(
  resourceType: string,
  position: SearchPosition,
  matched: readonly R[],
): { kept: R[]; position: SearchPosition } {
  const from = position.resuming ? position.at : undefined;
  const before = from ? new Set(from.ids) : undefined;
  const kept = from ? matched.filter((r) => !returnedBefore(from, before as Set<string>, r)) : [...matched];
  if (position.stuck) return { kept, position: { stuck: position.stuck } };
  let t = position.at?.t;
  // Where the run of resources at `t` starts in `kept`: 0 while it goes on from earlier pages.
  let runStart = 0;
  for (let i = 0; i < kept.length; i++) {
    const order = instantOrder(lastUpdatedOf(kept[i]), t);
    if (order !== undefined && order >= 0) {
      if (order > 0) [t, runStart] = [lastUpdatedOf(kept[i]), i];
      continue;
    }
    return { kept, position: stuckAt(resourceType, position, order === undefined ? 'undated' : 'unsorted') };
  }
  let at = position.at;
  if (t !== undefined && kept.length > 0) {
    const earlier = runStart === 0 && at?.t === t ? at : undefined;
    const run = kept.slice(runStart).map((r) => r.id);
    if (run.some((id) => typeof id !== 'string')) {
      return { kept, position: stuckAt(resourceType, position, 'undated') };
    }
    at = pointAt(t, earlier, run as string[]);
  }
  const next: SearchPosition = at ? { at } : {};
  if (position.resuming && at?.t === from?.t) next.resuming = true;
  if (position.idle && kept.length === 0) next.idle = true;
  return { kept, position: next };
}

/**
 * The position of a search whose place is lost for good. A resumed search still skipping cannot go
 * on without its place: that fails the page.
 */
function stuckAt(resourceType: string, position: SearchPosition, stuck: Unresumable): SearchPosition {
  if (position.resuming) throw notInOrder(resourceType, REASONS[stuck]);
  return { stuck };
}

/** The point at `t` after `run` (ids in order), going on from `earlier` at the same instant. */
function pointAt(t: string, earlier: ResumePoint | undefined, run: string[]): ResumePoint {
  if (earlier?.full) return earlier;
  const ids = new Set(earlier?.ids);
  for (const id of run) {
    if (ids.size === MAX_RESUME_IDS && !ids.has(id)) return { t, ids: [...ids], full: true };
    ids.add(id);
  }
  return { t, ids: [...ids] };
}

/** `meta.lastUpdated` in UTC, whole seconds or with a fraction: same-length texts order as strings. */
const UTC_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/;

/**
 * Negative, zero or positive as instant `a` is before, at or after `b` (undefined `b`: before all);
 * undefined when `a` is not an instant. The usual case, two instants of one format, is compared as text.
 */
function instantOrder(a: string | undefined, b: string | undefined): number | undefined {
  if (a === undefined) return undefined;
  if (a === b) return 0;
  if (b !== undefined && a.length === b.length && UTC_INSTANT.test(a) && UTC_INSTANT.test(b)) {
    return a < b ? -1 : 1;
  }
  if (utcInstant(a) === undefined) return undefined;
  return b === undefined ? 1 : compareInstants(a, b);
}

/** While resuming from `from`: the resource lies before it, or at it under a kept id. */
function returnedBefore(from: ResumePoint, ids: Set<string>, resource: Record<string, unknown>): boolean {
  const order = instantOrder(lastUpdatedOf(resource), from.t);
  if (order === undefined) return false;
  return order < 0 || (order === 0 && typeof resource.id === 'string' && ids.has(resource.id));
}

function notInOrder(resourceType: string, why: string): SourceError {
  return new SourceError(
    `the source's search of ${resourceType} expired (410 Gone) and its resumed search cannot be followed exactly: ${why}`,
    502,
    false,
  );
}
