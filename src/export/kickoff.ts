/** Creating a job from a validated kick-off: limits, request reuse, the job record. */
import { randomUUID } from 'node:crypto';
import type { ExportDeps } from './exportDeps';
import { TooManyRequestsError } from './errors';
import type { ParsedKickoff } from './kickoffRequest';
import type { ExportJobRecord } from './model';
import { requestHash } from './requestHash';

export interface KickoffResult {
  job: ExportJobRecord;
  /** True when an identical running job was returned instead of a new one. */
  reused: boolean;
}

/** How long a client is asked to wait when the service is at its job limit. */
const BUSY_RETRY_AFTER_SECONDS = 60;

export async function createExportJob(deps: ExportDeps, kickoff: ParsedKickoff, clientId: string): Promise<KickoffResult> {
  const hash = requestHash(kickoff.request, clientId);
  if (!kickoff.noCache) {
    const running = await deps.jobs.findActiveJobByHash(clientId, hash);
    if (running) return { job: running, reused: true };
  }
  if ((await deps.jobs.countActiveJobs(clientId)) >= deps.config.maxActiveJobsPerClient) {
    throw new TooManyRequestsError('Too many exports of this client are running; retry later.', BUSY_RETRY_AFTER_SECONDS);
  }
  if ((await deps.jobs.countActiveJobs()) >= deps.config.maxActiveJobs) {
    throw new TooManyRequestsError('Too many exports are running; retry later.', BUSY_RETRY_AFTER_SECONDS);
  }
  const jobId = randomUUID();
  const now = deps.now().toISOString();
  const job = await deps.jobs.createJob({
    id: jobId,
    jobId,
    docType: 'job',
    status: 'Queued',
    createdAt: now,
    transactionTime: now,
    request: kickoff.request,
    requestHash: hash,
    destination: {
      accountUrl: deps.destinationRef.accountUrl,
      container: kickoff.request.container ?? deps.destinationRef.container,
    },
    clientId,
  });
  return { job, reused: false };
}
