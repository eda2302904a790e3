/**
 * `allowPartialManifests` (Bulk Data Access IG v3.0.0): while a job runs, a poll lists the files that
 * are finished, and a manifest is split into pages linked with `link: [{ relation: 'next', url }]`.
 *
 * The IG forbids changing a manifest once a client has seen it (except adding its `next` link or
 * refreshing expired URLs), and changing a file once a manifest lists it. So pages are documents of
 * their own, written once (see `ManifestPageDocument`): a poll appends a page for the files finished
 * since the last page, never adds to an existing one, and lists a file only once it is closed.
 */
import { allowedTypes, insufficientScope } from '../auth/smartScopes';
import type { ExportDeps } from './exportDeps';
import { NotFoundError } from './errors';
import { manifestOutput } from './jobActions';
import { fileNameOf, fileSeenBy, jobSeenBy } from './jobAccess';
import {
  manifestPageDocumentId,
  type ExportJobRecord,
  type ManifestOutputEntry,
  type ManifestPageDocument,
  type PagedFile,
  type ProgressDocument,
} from './model';
import { manifestDeleted } from './deletions';
import { statusReport, type BulkManifest, type StatusReport } from './statusReport';

/** Where a manifest points: each file, and each page of the manifest (page 1 is the poll URL). */
export interface ManifestUrls {
  fileUrl(job: ExportJobRecord, blobName: string): Promise<string>;
  pageUrl(jobId: string, page: number): string;
}

/** Rounds of appending pages while other polls append too; each round loses only to a new page. */
const MAX_APPEND_ROUNDS = 5;

/**
 * The files no page step writes to again: every file of a finished unit, and every part of a running
 * unit but its last (a file rolls over to the next part for good; only the last part grows).
 */
export function closedFiles(progress: ProgressDocument[]): PagedFile[] {
  const closed = progress.map((p) => {
    if (p.done) return p;
    const last = Math.max(0, ...p.files.map((f) => f.part));
    return { ...p, files: p.files.filter((f) => f.part < last) };
  });
  return [...manifestOutput(closed), ...asDeleted(manifestDeleted(closed))];
}

/** Files of the manifest's `deleted` array, marked so for their page. */
function asDeleted(files: ManifestOutputEntry[] | undefined): PagedFile[] {
  return (files ?? []).map((f) => ({ ...f, list: 'deleted' as const }));
}

/**
 * The pages that list every file of `available` no page lists yet, at most `pageSize` files each,
 * numbered on from the last page.
 */
export function pagesToAdd(
  jobId: string,
  pages: ManifestPageDocument[],
  available: PagedFile[],
  pageSize: number,
  now: Date,
): ManifestPageDocument[] {
  const listed = new Set(pages.flatMap((p) => p.files.map((f) => f.blobName)));
  const fresh = available.filter((f) => !listed.has(f.blobName));
  const last = Math.max(0, ...pages.map((p) => p.page));
  const added: ManifestPageDocument[] = [];
  for (let start = 0; start < fresh.length; start += pageSize) {
    const page = last + added.length + 1;
    added.push({
      id: manifestPageDocumentId(jobId, page),
      jobId,
      docType: 'manifestPage',
      page,
      files: fresh.slice(start, start + pageSize),
      createdAt: now.toISOString(),
    });
  }
  return added;
}

/** Appends pages until every file of `available` is on one; returns every page of the job. */
export async function appendPages(
  deps: ExportDeps,
  jobId: string,
  available: PagedFile[],
): Promise<ManifestPageDocument[]> {
  let pages = await deps.jobs.listManifestPages(jobId);
  for (let round = 0; round < MAX_APPEND_ROUNDS; round++) {
    const added = pagesToAdd(jobId, pages, available, deps.config.manifestPageFiles, deps.now());
    let complete = true;
    for (const page of added) {
      // Another poll created this page first: read its pages and list what they left out.
      if (!(await deps.jobs.createManifestPage(page))) {
        complete = false;
        break;
      }
    }
    if (complete) return [...pages, ...added];
    pages = await deps.jobs.listManifestPages(jobId);
  }
  return pages;
}

/**
 * What a poll (page 1) or a request for a later page answers. Without `allowPartialManifests` the
 * poll answers as ever and there is no later page. With it, the running job's answer carries the
 * first page once a file is closed, and the completed job's manifest is its first page, the rest
 * of the files on the pages its `next` links lead to.
 */
export async function manifestReport(
  deps: ExportDeps,
  job: ExportJobRecord,
  scopes: readonly string[],
  urls: ManifestUrls,
  pageNumber = 1,
): Promise<StatusReport> {
  const seen = jobSeenBy(scopes, job);
  if (!job.request.allowPartialManifests) {
    if (pageNumber !== 1) throw new NotFoundError('This export has no such manifest page.');
    return statusReport(deps, seen, urls.fileUrl);
  }
  // The pages list the files; the report itself lists none.
  const report = await statusReport(deps, { ...seen, output: [] }, urls.fileUrl);
  if (report.state === 'failed' || (report.state === 'in-progress' && job.status !== 'Running')) {
    return report;
  }
  const available =
    report.state === 'completed'
      ? [...(job.output ?? []), ...asDeleted(job.deleted)]
      : closedFiles(await deps.jobs.listProgress(job.jobId));
  const pages = await appendPages(deps, job.jobId, available);
  if (pages.length === 0 && pageNumber === 1) return report;
  const page = pages.find((p) => p.page === pageNumber);
  if (!page) throw new NotFoundError('This export has no such manifest page.');
  const base: BulkManifest =
    report.state === 'completed'
      ? report.manifest
      : {
          transactionTime: job.transactionTime,
          request: job.request.requestUrl,
          requiresAccessToken: deps.config.fileAccess === 'download',
          output: [],
          ...(job.request.since !== undefined ? { deleted: [] } : {}),
          error: [],
        };
  const allowed = allowedTypes(scopes);
  const files = page.files.filter((f) => allowed === '*' || allowed.has(f.type));
  const entries = (list: PagedFile[], type?: string) =>
    Promise.all(
      list.map(async (f) => ({
        type: type ?? f.type,
        url: await urls.fileUrl(job, f.blobName),
        count: f.count,
      })),
    );
  const manifest: BulkManifest = {
    ...base,
    output: await entries(files.filter((f) => !f.list)),
    // `deleted` is paged like `output` (IG v3): each page lists its own deletion files.
    ...(base.deleted
      ? {
          deleted: await entries(
            files.filter((f) => f.list === 'deleted'),
            'Bundle',
          ),
        }
      : {}),
    ...(pages.some((p) => p.page === pageNumber + 1)
      ? { link: [{ relation: 'next' as const, url: urls.pageUrl(job.jobId, pageNumber + 1) }] }
      : {}),
  };
  return { ...report, manifest };
}

/**
 * The manifest entry of file `fileName` for a download: a completed job's manifest, or, while a job
 * with `allowPartialManifests` runs, a page already listing it. 404 when none lists it, 403 when the
 * scopes do not allow its type.
 */
export async function listedFile(
  deps: ExportDeps,
  scopes: readonly string[],
  job: ExportJobRecord,
  fileName: string,
): Promise<ManifestOutputEntry> {
  if (job.status !== 'Running' || !job.request.allowPartialManifests)
    return fileSeenBy(scopes, job, fileName);
  jobSeenBy(scopes, job);
  const pages = await deps.jobs.listManifestPages(job.jobId);
  const entry = pages.flatMap((p) => p.files).find((f) => fileNameOf(f.blobName) === fileName);
  if (!entry) throw new NotFoundError('The file was not found in this export.');
  const allowed = allowedTypes(scopes);
  if (allowed !== '*' && !allowed.has(entry.type)) {
    throw insufficientScope("The access token does not allow reading this file's resource type", [
      entry.type,
    ]);
  }
  return entry;
}
