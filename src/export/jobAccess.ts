/**
 * What a client may do with its own job, by the scopes of the token it calls with now. The token that
 * polls, downloads or cancels need not be the one that started the job (the same client with
 * narrower scopes, or a user-delegated token issued to the same app), so owning the job is not enough:
 *
 * - status: the scopes must allow at least one of the job's types (else 403); the manifest lists the
 *   output files of the types they allow, and the `error` files (they describe the request, not data);
 * - download: a file of a type the scopes do not allow is 403;
 * - cancel: the scopes must allow every type of the job, since it deletes all of its files.
 *
 * A scope allows a type exactly as at kick-off (`allowedTypes`: `system/`, read and search, no query).
 */
import { ForbiddenError } from '../auth/errors';
import { allowedTypes, insufficientScope, noSystemReadScope, typesNotAllowed } from '../auth/smartScopes';
import { NotFoundError } from './errors';
import { plannedTypes, type ExportJobRecord, type ManifestOutputEntry } from './model';

/** Who calls, as far as access to a job goes. */
export interface JobCaller {
  clientId: string;
  scopes: readonly string[];
}

/** The file name of a blob of a job (`{jobId}/Patient-1.ndjson` → `Patient-1.ndjson`). */
export function fileNameOf(blobName: string): string {
  return blobName.slice(blobName.lastIndexOf('/') + 1);
}

/**
 * The resource types a job exports, as far as they are known: its `_type` list, the types the
 * kick-off checked, the planned types and the types of its files (a job stored before `checkedTypes`
 * existed has its plan and files). Undefined while none of them is known: a job without `_type`,
 * started with scopes that allow every type, and not planned yet.
 */
export function jobTypes(job: ExportJobRecord): string[] | undefined {
  if (job.request.types.length === 0 && !job.checkedTypes && !job.plannedUnits) return undefined;
  const types = [
    ...job.request.types,
    ...(job.checkedTypes ?? []),
    ...plannedTypes(job),
    ...organizedTypes(job),
    ...(job.output ?? []).map((o) => o.type),
  ];
  return [...new Set(types)].sort();
}

/**
 * The job as these scopes may see it: a 403 unless they allow at least one of its types, and the
 * manifest's output kept to the files of the types they allow.
 */
export function jobSeenBy(scopes: readonly string[], job: ExportJobRecord): ExportJobRecord {
  const allowed = allowedTypes(scopes);
  if (allowed === '*') return job;
  if (allowed.size === 0) throw noSystemReadScope();
  const types = jobTypes(job) ?? [];
  if (types.length > 0 && !types.some((t) => allowed.has(t))) {
    throw insufficientScope(
      'The access token allows reading none of the resource types of this export',
      types,
    );
  }
  const seen = (files: ManifestOutputEntry[] | undefined) => files?.filter((o) => allowed.has(o.type));
  // An organized file holds every organized type: reading it takes a scope for each of them.
  const output = !job.request.organizeOutputBy
    ? seen(job.output)
    : organizedTypes(job).every((t) => allowed.has(t))
      ? job.output
      : [];
  return { ...job, output, deleted: seen(job.deleted) };
}

/** The types the files of an export organized by patient hold (see organizedOutput.ts). */
function organizedTypes(job: ExportJobRecord): string[] {
  return (job.plannedUnits ?? []).flatMap((u) => u.organizedTypes ?? []);
}

/**
 * The manifest entry of a completed job's file `fileName`: 404 when the manifest has no such file,
 * 403 when the scopes do not allow reading its type. Only names in the job's own manifest ever
 * reach storage, so no path tricks.
 */
export function fileSeenBy(
  scopes: readonly string[],
  job: ExportJobRecord,
  fileName: string,
): ManifestOutputEntry {
  const named = (files: ManifestOutputEntry[] | undefined) =>
    job.status === 'Completed' ? (files ?? []).find((o) => fileNameOf(o.blobName) === fileName) : undefined;
  const entry = named(job.output) ?? named(job.deleted) ?? named(job.errorFiles);
  if (!entry) throw new NotFoundError('The file was not found in this export.');
  const visible = jobSeenBy(scopes, job);
  const files = [...(visible.output ?? []), ...(visible.deleted ?? []), ...(visible.errorFiles ?? [])];
  if (!files.includes(entry)) {
    throw insufficientScope("The access token does not allow reading this file's resource type", [
      entry.type,
    ]);
  }
  return entry;
}

/** Throws 403 unless the scopes allow every type of the job (a cancel deletes all of its files). */
export function assertCanCancel(scopes: readonly string[], job: ExportJobRecord): void {
  const allowed = allowedTypes(scopes);
  if (allowed === '*') return;
  if (allowed.size === 0) throw noSystemReadScope();
  const types = jobTypes(job);
  if (!types) {
    throw new ForbiddenError(
      'This export covers every resource type of the source; cancelling it needs a scope for every type.',
      'system/*.read system/*.rs',
    );
  }
  const missing = typesNotAllowed(scopes, types);
  if (missing.length > 0) {
    throw insufficientScope(
      'The access token does not allow cancelling this export, which also holds these resource types',
      missing,
    );
  }
}
