/**
 * Deleted resources of a `_since` export (Bulk Data Access IG v3.0.0, the manifest's `deleted`
 * array): one deletion unit per exported type, `{Type}.deleted`, planned beside the type's own
 * units and written by the same page step (same block ids, commits and checkpoints, so exactly
 * once under retries). Each line of its files is a `transaction` Bundle with one entry per deleted
 * resource, `request.method = DELETE`, `request.url = Type/id`.
 *
 * Where deletions cannot be told (a source that cannot list them for a type, a Patient or Group
 * export, a type with `_typeFilter`), the job's warnings say so; they go to the manifest's `error`
 * file as OperationOutcomes, so a client never mistakes "not reported" for "none".
 */
import type { DeletedResource } from '../sources/deletionSource';
import type { SearchPage, SearchParameters } from '../sources/searchSource';
import type { ExportDeps } from './exportDeps';
import type { ExportJobRecord, ManifestOutputEntry, PlannedUnit, ProgressDocument } from './model';

/** The unit id of the deletions of a type; letters and one dot, like a range's (`Type.r2`). */
export function deletedUnitId(resourceType: string): string {
  return `${resourceType}.deleted`;
}

export interface DeletionPlan {
  units: PlannedUnit[];
  /** Why deletions of some types are not reported (one sentence each). */
  notices: string[];
}

/** The deletion units of a job exporting `types`, and what it cannot report. Nothing without `_since`. */
export async function planDeletions(
  deps: Pick<ExportDeps, 'deletions'>,
  job: ExportJobRecord,
  types: string[],
): Promise<DeletionPlan> {
  const { request } = job;
  if (request.since === undefined || types.length === 0) return { units: [], notices: [] };
  if (request.level !== 'system') {
    return {
      units: [],
      notices: [
        'Deleted resources are not reported for Patient- and Group-level exports: a deletion does not tell whose compartment the resource was in.',
      ],
    };
  }
  const source = deps.deletions;
  if (!source) {
    return {
      units: [],
      notices: ['Deleted resources are not reported: the data source cannot list deletions.'],
    };
  }
  const units: PlannedUnit[] = [];
  const notices: string[] = [];
  for (const type of types) {
    if ((request.typeFilters[type] ?? []).length > 0) {
      notices.push(
        `Deleted ${type} resources are not reported: _typeFilter cannot be applied to deleted resources.`,
      );
      continue;
    }
    const support = await source.deletionSupport(type);
    if (support.supported) units.push({ unitId: deletedUnitId(type), resourceType: type, kind: 'deleted' });
    else notices.push(`Deleted ${type} resources are not reported: ${support.reason}.`);
  }
  return { units, notices };
}

/**
 * The page a unit's step writes: the source's search page, or for a deletion unit one line per
 * deleted resource in the job's window (`_since` up to `_until` or the transaction time).
 */
export async function unitPage(
  deps: ExportDeps,
  job: ExportJobRecord,
  progress: ProgressDocument,
  params: SearchParameters,
): Promise<SearchPage> {
  if (progress.kind !== 'deleted') {
    return deps.source.search(progress.resourceType, params, progress.continuationToken);
  }
  const since = job.request.since;
  if (!deps.deletions || since === undefined)
    throw new Error(`Deletion unit ${progress.unitId} cannot be read`);
  const page = await deps.deletions.deletions(
    progress.resourceType,
    { since, until: params.until, count: params.count },
    progress.continuationToken,
  );
  return {
    resources: page.deleted.map((d) => deletionBundleLine(progress.resourceType, d)),
    nextToken: page.nextToken,
  };
}

/** One NDJSON line of a deletion file: a transaction Bundle deleting `resourceType/id`. */
export function deletionBundleLine(resourceType: string, deleted: DeletedResource): string {
  return JSON.stringify({
    resourceType: 'Bundle',
    ...(deleted.deletedAt !== undefined ? { meta: { lastUpdated: deleted.deletedAt } } : {}),
    type: 'transaction',
    entry: [{ request: { method: 'DELETE', url: `${resourceType}/${deleted.id}` } }],
  });
}

/**
 * The job's `deleted` files: every non-empty file of the deletion units, by type then part, each
 * with the type it deletes (the scopes that may read it); the manifest lists them as `Bundle`s.
 */
export function manifestDeleted(progress: ProgressDocument[]): ManifestOutputEntry[] {
  return progress
    .filter((p) => p.kind === 'deleted')
    .flatMap((p) => p.files.filter((f) => f.count > 0).map((f) => ({ type: p.resourceType, ...f })))
    .sort((a, b) => a.type.localeCompare(b.type) || a.part - b.part)
    .map((f) => ({ type: f.type, blobName: f.blobName, count: f.count, bytes: f.bytes }));
}
