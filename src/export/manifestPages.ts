/**
 * `allowPartialManifests` (Bulk Data Access IG v3.0.0): while a job runs, a poll lists the files that
 * are finished, and a manifest is split into pages linked with `link: [{ relation: 'next', url }]`.
 *
 * The IG forbids changing a manifest once a client has seen it (except adding its `next` link or
 * refreshing expired URLs), and changing a file once a manifest lists it. So pages are documents of
 * their own, written once (see `ManifestPageDocument`): a poll appends a page for the files finished
 * since the last page, never adds to an existing one, and lists a file only once it is closed.
 * Every field of a page derives from the job's kick-off or from the page's own files, so page 1 read
 * while the job runs is the same page once it completes. The `error` files are written when the job
 * completes, so they go on a page appended then, like the last `output` files.
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
  return [...manifestOutput(closed), ...listedIn('deleted', manifestDeleted(closed))];
}

/** Files of the manifest's `deleted` or `error` array, marked so for their page. */
function listedIn(list: 'deleted' | 'error', files: ManifestOutputEntry[] | undefined): PagedFile[] {
  return (files ?? []).map((f) => ({ ...f, list }));
}

/** Every file of a completed job, as its pages list them: `output`, then `deleted`, then `error`. */
export function completedFiles(job: ExportJobRecord): PagedFile[] {
  return [...(job.output ?? []), ...listedIn('deleted', job.deleted), ...listedIn('error', job.errorFiles)];
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
  const report = await statusReport(deps, { ...seen, output: [], deleted: [], errorFiles: [] }, urls.fileUrl);
  if (report.state === 'failed' || (report.state === 'in-progress' && job.status !== 'Running')) {
    return report;
  }
  const available =
    report.state === 'completed' ? completedFiles(job) : closedFiles(await deps.jobs.listProgress(job.jobId));
  const pages = await appendPages(deps, job.jobId, available);
  if (pages.length === 0 && pageNumber === 1) return report;
  const page = pages.find((p) => p.page === pageNumber);
  if (!page) throw new NotFoundError('This export has no such manifest page.');
  const manifest = await pageManifest(deps, job, scopes, urls, page);
  const next = pages.some((p) => p.page === pageNumber + 1)
    ? { link: [{ relation: 'next' as const, url: urls.pageUrl(job.jobId, pageNumber + 1) }] }
    : {};
  return { ...report, manifest: { ...manifest, ...next } };
}

/**
 * A page's manifest without its `next` link: the same whether the job runs or has completed, since
 * it reads only the kick-off's fields and the page's files (fields in the order of a plain manifest).
 */
async function pageManifest(
  deps: ExportDeps,
  job: ExportJobRecord,
  scopes: readonly string[],
  urls: ManifestUrls,
  page: ManifestPageDocument,
): Promise<BulkManifest> {
  const allowed = allowedTypes(scopes);
  const entries = (list: PagedFile['list'], type?: string) =>
    Promise.all(
      page.files
        // The `error` files are not of a resource type the scopes select: every reader sees them.
        .filter((f) => f.list === list && (list === 'error' || allowed === '*' || allowed.has(f.type)))
        .map(async (f) => ({
          type: type ?? f.type,
          url: await urls.fileUrl(job, f.blobName),
          count: f.count,
        })),
    );
  return {
    transactionTime: job.transactionTime,
    request: job.request.requestUrl,
    requiresAccessToken: deps.config.fileAccess === 'download',
    output: await entries(undefined),
    // `deleted` and `error` are paged like `output` (IG v3): each page lists its own files.
    ...(job.request.since !== undefined ? { deleted: await entries('deleted', 'Bundle') } : {}),
    error: await entries('error'),
    ...(job.deidentification ? { extension: { deidentification: job.deidentification } } : {}),
  };
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
