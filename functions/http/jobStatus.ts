/** The Bulk Data poll URL: status (GET), cancel/delete (DELETE), and file downloads. */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { NotFoundError } from '../../src/export/errors';
import { cancelJob } from '../../src/export/jobActions';
import { isActiveStatus } from '../../src/export/jobLifecycle';
import type { ExportJobRecord } from '../../src/export/model';
import { readOwnJob, statusReport } from '../../src/export/statusReport';
import { getServices } from '../../src/services';
import { repairWithOrchestration, stopJobInstances } from '../durable/jobRepair';
import { baseUrl, fhirJson, handled, principalOf } from './respond';

function fileNameOf(blobName: string): string {
  return blobName.slice(blobName.lastIndexOf('/') + 1);
}

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
    const base = baseUrl(request);
    const report = await statusReport(services.exportDeps, job, (j: ExportJobRecord, blobName: string) =>
      services.exportDeps.config.fileAccess === 'sas'
        ? services.exportDeps
            .destinationFor(j.destination)
            .sasUrl(blobName, new Date(Date.now() + services.exportDeps.config.sasLifetimeMinutes * 60_000))
        : Promise.resolve(
            `${base}/_operations/export/${j.jobId}/files/${encodeURIComponent(fileNameOf(blobName))}`,
          ),
    );
    switch (report.state) {
      case 'in-progress':
        return {
          status: 202,
          headers: { 'X-Progress': report.progress, 'Retry-After': String(report.retryAfterSeconds) },
        };
      case 'completed': {
        const headers: Record<string, string> = { 'Content-Type': 'application/json' };
        if (report.expires) headers.Expires = new Date(report.expires).toUTCString();
        return { status: 200, headers, body: JSON.stringify(report.manifest) };
      }
      case 'failed':
        return fhirJson(report.statusCode, report.outcome);
    }
  });
}

async function deleteJob(
  request: HttpRequest,
  client: df.DurableClient,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  return handled(context, async () => {
    const services = await getServices();
    const principal = await principalOf(request);
    await cancelJob(services.exportDeps, request.params.jobId, principal.clientId, (job) =>
      stopJobInstances(client, job, 'Export cancelled by the client'),
    );
    return fhirJson(202, {
      resourceType: 'OperationOutcome',
      issue: [
        {
          severity: 'information',
          code: 'informational',
          diagnostics: 'Export cancelled; its files are deleted.',
        },
      ],
    });
  });
}

async function download(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handled(context, async () => {
    const services = await getServices();
    const principal = await principalOf(request);
    const job = await readOwnJob(services.exportDeps, request.params.jobId, principal.clientId);
    // Only names listed in the job's own manifest reach storage: no path tricks.
    const entry = (job.status === 'Completed' ? [...(job.output ?? []), ...(job.errorFiles ?? [])] : []).find(
      (o) => fileNameOf(o.blobName) === request.params.fileName,
    );
    if (!entry) throw new NotFoundError('The file was not found in this export.');
    const stream = await services.exportDeps.destinationFor(job.destination).openRead(entry.blobName);
    if (!stream) throw new NotFoundError('The file is no longer available.');
    const gzip = /\bgzip\b/i.test(request.headers.get('accept-encoding') ?? '');
    const readable = Readable.from(stream as AsyncIterable<Buffer>);
    const body = gzip ? readable.pipe(createGzip()) : readable;
    return {
      status: 200,
      headers: {
        'Content-Type': 'application/fhir+ndjson',
        ...(gzip ? { 'Content-Encoding': 'gzip' } : { 'Content-Length': String(entry.bytes) }),
      },
      body: Readable.toWeb(body) as unknown as ReadableStream<Uint8Array>,
    };
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
app.http('exportDownload', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: '_operations/export/{jobId}/files/{fileName}',
  handler: download,
});
