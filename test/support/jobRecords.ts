import type {
  ExportJobRecord,
  FailedJobRecord,
  JobRecordFields,
  PlannedUnit,
  ProgressDocument,
  RunningJobRecord,
} from '../../src/export/model';
import { defaultOrchestrationSettings, exportRequest } from './exportRequests';

/** Any field of a job record but its status, which each builder sets. */
export type JobFields = Partial<JobRecordFields>;

function baseJob(jobId: string, fields: JobFields): JobRecordFields {
  return {
    id: jobId,
    jobId,
    docType: 'job',
    createdAt: '2024-01-01T00:00:00.000Z',
    transactionTime: '2024-01-01T00:00:00.000Z',
    request: exportRequest(),
    requestHash: 'hash-1',
    destination: { accountUrl: 'http://127.0.0.1:1/devstoreaccount1', container: 'exports' },
    clientId: 'client-a',
    orchestration: defaultOrchestrationSettings(),
    ...fields,
  };
}

/** One unit per type of the request (`Patient` when it names none), as an unsplit plan has them. */
function unitsFor(job: JobRecordFields): PlannedUnit[] {
  const types = job.request.types.length > 0 ? job.request.types : ['Patient'];
  return types.map((type) => ({ unitId: type, resourceType: type }));
}

/** A job as the kick-off creates it. */
export function queuedJob(jobId: string, fields: JobFields = {}): ExportJobRecord {
  return { ...baseJob(jobId, fields), status: 'Queued' };
}

/** A started job: planned (one unit per requested type unless `fields` says otherwise). */
export function runningJob(jobId: string, fields: JobFields = {}): RunningJobRecord {
  const job = baseJob(jobId, fields);
  return {
    startedAt: job.createdAt,
    ...job,
    status: 'Running',
    plannedUnits: job.plannedUnits ?? unitsFor(job),
  };
}

export function completedJob(jobId: string, fields: JobFields = {}): RunningJobRecord {
  const job = runningJob(jobId, fields);
  return { completedAt: job.createdAt, output: [], ...job, status: 'Completed' };
}

export function failedJob(
  jobId: string,
  failureDetails = { reason: 'The source refused the query.', statusCode: 400 },
  fields: JobFields = {},
): FailedJobRecord {
  return { ...baseJob(jobId, fields), status: 'Failed', failureDetails };
}

export function cancelledJob(jobId: string, fields: JobFields = {}): ExportJobRecord {
  return { ...baseJob(jobId, fields), status: 'Cancelled' };
}

/** The progress document of unit `unitId` (`Type` or `Type.rN`) of job `job`, nothing written yet. */
export function progressDocument(unitId: string, fields: Partial<ProgressDocument> = {}): ProgressDocument {
  return {
    id: `job:progress:${unitId}`,
    jobId: 'job',
    docType: 'progress',
    unitId,
    resourceType: unitId.split('.')[0],
    page: 0,
    done: false,
    resourceCount: 0,
    bytes: 0,
    files: [],
    updatedAt: '2024-01-01T00:00:00.000Z',
    ...fields,
  };
}
