/** The Bulk Data poll URL: status (GET), cancel/delete (DELETE), and file downloads. */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { NotFoundError } from '../../src/export/errors';
import { acceptsGzip, contentRange, requestedRange } from '../../src/http/byteRange';
import { cancelJob } from '../../src/export/jobActions';
import { isActiveStatus } from '../../src/export/jobLifecycle';
import { fileUrlsOf } from '../../src/export/fileUrls';
import { listedFile, manifestReport, type ManifestUrls } from '../../src/export/manifestPages';
import { readOwnJob, type StatusReport } from '../../src/export/statusReport';
import type { ExportDeps } from '../../src/export/exportDeps';
import { getServices } from '../../src/services';
import { repairWithOrchestration, stopJobInstances } from '../durable/jobRepair';
import { streamedBody } from './streamedBody';
import { baseUrl, fhirJson, handled, principalOf } from './respond';

async function getStatus(
  request: HttpRequest,
  client: df.DurableClient,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  return handled(context, async () => {
    const services = await getServices();
    const principal = await principalOf(request);
    await services.pollLimiter.check(`${principal.clientId}:${request.params.jobId}`);
    let job = await readOwnJob(services.exportDeps, request.params.jobId, principal.clientId);
    // The answer never says "in progress" for a job whose orchestration has ended.
    if (isActiveStatus(job.status)) {
      const repaired = await repairWithOrchestration(client, services.exportDeps, job);
      if (repaired === 'failed') {
        job = await readOwnJob(services.exportDeps, request.params.jobId, principal.clientId);
      }
    }
    // The scopes of this token, not the kick-off's: 403, or a manifest of the types they allow.
    const report = await manifestReport(
      services.exportDeps,
      job,
      principal.scopes,
      manifestUrls(services.exportDeps, request),
    );
    return reportResponse(report);
  });
}

/** A later page of a manifest under `allowPartialManifests` (page 1 is the poll URL's answer). */
async function getManifestPage(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handled(context, async () => {
    const services = await getServices();
    const principal = await principalOf(request);
    const job = await readOwnJob(services.exportDeps, request.params.jobId, principal.clientId);
    const page = /^[1-9]\d{0,8}$/.test(request.params.page) ? Number(request.params.page) : undefined;
    if (page === undefined) throw new NotFoundError('This export has no such manifest page.');
    const report = await manifestReport(
      services.exportDeps,
      job,
      principal.scopes,
      manifestUrls(services.exportDeps, request),
      page,
    );
    if (report.state === 'in-progress' && !report.manifest) {
      throw new NotFoundError('This export has no such manifest page.');
    }
    // A page is a document of its own: 200 whether or not the export still runs.
    return report.state === 'failed' ? reportResponse(report) : reportResponse(report, 200);
  });
}

function manifestUrls(deps: ExportDeps, request: HttpRequest): ManifestUrls {
  const base = baseUrl(request);
  return {
    fileUrl: fileUrlsOf(deps, base),
    pageUrl: (jobId, page) => `${base}/_operations/export/${jobId}/manifest/${page}`,
  };
}

function reportResponse(report: StatusReport, status?: number): HttpResponseInit {
  switch (report.state) {
    case 'in-progress': {
      const headers: Record<string, string> = {
        'X-Progress': report.progress,
        'Retry-After': String(report.retryAfterSeconds),
      };
      if (!report.manifest) return { status: status ?? 202, headers };
      // allowPartialManifests: the files finished so far, with the 202 of a running export.
      headers['Content-Type'] = 'application/json';
      return { status: status ?? 202, headers, body: JSON.stringify(report.manifest) };
    }
    case 'completed': {
      const headers: Record<string, string> = { 'Content-Type': 'application/json' };
      if (report.expires) headers.Expires = new Date(report.expires).toUTCString();
      return { status: 200, headers, body: JSON.stringify(report.manifest) };
    }
    case 'failed':
      return fhirJson(report.statusCode, report.outcome);
  }
}

async function deleteJob(
  request: HttpRequest,
  client: df.DurableClient,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  return handled(context, async () => {
    const services = await getServices();
    const principal = await principalOf(request);
    const files = await cancelJob(services.exportDeps, request.params.jobId, principal, (job) =>
      stopJobInstances(client, job, 'Export cancelled by the client'),
    );
    return fhirJson(202, {
      resourceType: 'OperationOutcome',
      issue: [
        {
          severity: 'information',
          code: 'informational',
          diagnostics:
            files === 'deleted'
              ? 'Export cancelled; its files are deleted.'
              : 'Export cancelled; its files are deleted once storage can be reached again.',
        },
      ],
    });
  });
}

/**
 * One file of a completed export, streamed from storage as it is read: the whole file (gzipped when
 * the client accepts it), or the single byte range a client resuming a download asks for.
 */
async function download(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handled(context, async () => {
    const services = await getServices();
    const principal = await principalOf(request);
    const job = await readOwnJob(services.exportDeps, request.params.jobId, principal.clientId);
    const entry = await listedFile(services.exportDeps, principal.scopes, job, request.params.fileName);
    const size = entry.bytes;
    const range = requestedRange(size, request.headers.get('range'), request.headers.get('if-range'));
    const content = await services.exportDeps
      .destinationFor(job.destination)
      .openRead(entry.blobName, range && { offset: range.start, count: range.end - range.start + 1 });
    if (!content) throw new NotFoundError('The file is no longer available.');
    const readable = Readable.from(content.stream as AsyncIterable<Buffer>);
    if (content.size !== size) {
      readable.destroy();
      throw new Error(`${entry.blobName} holds ${content.size} bytes, its manifest entry ${size}`);
    }
    const headers: Record<string, string> = { 'Content-Type': 'application/fhir+ndjson' };
    let body: Readable = readable;
    let status = 200;
    if (range) {
      status = 206;
      headers['Content-Range'] = contentRange(range, size);
      headers['Content-Length'] = String(range.end - range.start + 1);
    } else {
      headers['Accept-Ranges'] = 'bytes';
      headers.Vary = 'Accept-Encoding';
      if (acceptsGzip(request.headers.get('accept-encoding'))) {
        headers['Content-Encoding'] = 'gzip';
        body = readable.pipe(createGzip());
      } else {
        headers['Content-Length'] = String(size);
      }
    }
    return { status, headers, body: streamedBody(body, context.invocationId) };
  });
}

df.app.client.http('exportStatus', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: '_operations/export/{jobId}',
  handler: getStatus,
});
df.app.client.http('exportDelete', {
  methods: ['DELETE'],
  authLevel: 'anonymous',
  route: '_operations/export/{jobId}',
  handler: deleteJob,
});
app.http('exportManifestPage', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: '_operations/export/{jobId}/manifest/{page}',
  handler: getManifestPage,
});
app.http('exportDownload', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: '_operations/export/{jobId}/files/{fileName}',
  handler: download,
});
