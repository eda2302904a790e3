import { failJob } from '../../src/export/jobActions';
import type { ExportDeps } from '../../src/export/exportDeps';
import {
  jobCompleted,
  jobQueued,
  pageWritten,
  scrubReason,
  TelemetryEvents,
  TelemetryMetrics,
} from '../../src/export/exportTelemetry';
import { exportConfigFromEnv } from '../../src/config';
import type { ExportJobRecord } from '../../src/export/model';
import { completedJob, queuedJob, runningJob, type JobFields } from '../support/jobRecords';
import type { JobStore } from '../../src/jobs/jobStore';
import {
  createTelemetry,
  noopTelemetry,
  operationTraceId,
  type Telemetry,
  type TelemetryMeasurements,
  type TelemetryProperties,
  type TelemetryScope,
} from '../../src/telemetry';

interface Recorded {
  kind: 'event' | 'metric';
  name: string;
  properties?: TelemetryProperties;
  measurements?: TelemetryMeasurements;
  value?: number;
  scope?: TelemetryScope;
}

/** A Telemetry that keeps what it is given. */
function recordingTelemetry(): Telemetry & { items: Recorded[]; flushes: number } {
  const recorder = {
    items: [] as Recorded[],
    flushes: 0,
    trackEvent(
      name: string,
      properties: TelemetryProperties,
      measurements?: TelemetryMeasurements,
      scope?: TelemetryScope,
    ) {
      recorder.items.push({ kind: 'event', name, properties, measurements, scope });
    },
    trackMetric(name: string, value: number, properties?: TelemetryProperties) {
      recorder.items.push({ kind: 'metric', name, value, properties });
    },
    async flush() {
      recorder.flushes += 1;
    },
  };
  return recorder;
}

const JOB_ID = '6f1c2a4e-9b7d-4c3e-8a1f-0d2e3b4c5a69';

const groupFields: JobFields = {
  createdAt: '2024-05-01T10:00:00.000Z',
  transactionTime: '2024-05-01T10:00:00.000Z',
  request: {
    level: 'group',
    requestUrl:
      'https://fhir.example/Group/diabetes-cohort-7/$export?_typeFilter=Observation%3Fsubject%3DPatient%2Fp-42',
    outputFormat: 'application/fhir+ndjson',
    types: ['Observation', 'Patient'],
    typeFilters: { Observation: ['subject=Patient/p-42&code=1234-5'] },
    elements: [],
    groupId: 'diabetes-cohort-7',
    patients: ['Patient/p-42'],
    includeAssociatedData: [],
  },
  requestHash: 'hash',
  destination: { accountUrl: 'http://127.0.0.1:10000/devstoreaccount1', container: 'exports' },
  clientId: 'client-of-dr-smith',
  patientScope: ['Patient/p-42', 'Patient/p-43'],
};

/** Every string an item carries, joined: what must never contain identifiers. */
function allText(items: Recorded[]): string {
  return JSON.stringify(items);
}

describe('telemetry port', () => {
  it('given no connection string, when telemetry is created, then it is the no-op and one line says so', async () => {
    const lines: string[] = [];
    const telemetry = await createTelemetry({}, (l) => lines.push(l));
    expect(telemetry).toBe(noopTelemetry);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/telemetry is off.*APPLICATIONINSIGHTS_CONNECTION_STRING/);
  });

  it('given the no-op, when anything is tracked or flushed, then nothing throws', async () => {
    expect(() => noopTelemetry.trackEvent('E', { a: 'b' }, { n: 1 }, { operationId: JOB_ID })).not.toThrow();
    expect(() => noopTelemetry.trackMetric('M', 3)).not.toThrow();
    await expect(noopTelemetry.flush()).resolves.toBeUndefined();
  });

  it('given a UUID job id, when mapped to a trace id, then it is the id without dashes; other ids are hashed', () => {
    expect(operationTraceId(JOB_ID)).toBe(JOB_ID.replace(/-/g, ''));
    expect(operationTraceId('not-a-uuid')).toMatch(/^[0-9a-f]{32}$/);
    expect(operationTraceId('00000000-0000-0000-0000-000000000000')).not.toBe('0'.repeat(32));
  });
});

describe('export telemetry vocabulary', () => {
  it('given a Group job with patients and type filters, when queued, then the event names the job and counts but no identifiers', () => {
    const telemetry = recordingTelemetry();
    jobQueued(telemetry, queuedJob(JOB_ID, groupFields));
    const [event] = telemetry.items;
    expect(event).toMatchObject({
      kind: 'event',
      name: TelemetryEvents.queued,
      scope: { operationId: JOB_ID },
      properties: {
        jobId: JOB_ID,
        level: 'group',
        requestedTypes: 'Observation,Patient',
        hasTypeFilter: 'true',
      },
      measurements: { typeFilterCount: 1, patientFilterCount: 1, patientScopeCount: 2 },
    });
    const text = allText(telemetry.items);
    for (const secret of ['diabetes-cohort-7', 'p-42', 'p-43', '1234-5', 'dr-smith', 'fhir.example'])
      expect(text).not.toContain(secret);
  });

  it('given a written page, when reported, then one event and both metrics are tracked, metrics without the job id', () => {
    const telemetry = recordingTelemetry();
    pageWritten(telemetry, {
      jobId: JOB_ID,
      resourceType: 'Observation',
      page: 3,
      resources: 50,
      bytes: 12_000,
      filePart: 1,
      latencyMs: 250,
      searchMs: 100,
      done: false,
      stagedAhead: true,
    });
    expect(telemetry.items[0].properties).toMatchObject({ lastPage: 'false', stagedAhead: 'true' });
    expect(telemetry.items.map((i) => i.name)).toEqual([
      TelemetryEvents.pageWritten,
      TelemetryMetrics.pageLatencyMs,
      TelemetryMetrics.resourcesPerSecond,
    ]);
    expect(telemetry.items[0].measurements).toMatchObject({
      page: 3,
      resources: 50,
      bytes: 12_000,
      latencyMs: 250,
      resourcesPerSecond: 200,
    });
    expect(telemetry.items[2]).toMatchObject({ value: 200, properties: { resourceType: 'Observation' } });
    expect(telemetry.items[1].properties).not.toHaveProperty('jobId');
  });

  it('given a completed job, when reported, then counts per type add up to the manifest', () => {
    const telemetry = recordingTelemetry();
    const job = completedJob(JOB_ID, {
      ...groupFields,
      startedAt: '2024-05-01T10:00:01.000Z',
      completedAt: '2024-05-01T10:00:11.000Z',
    });
    const output = [
      { type: 'Observation', blobName: `${JOB_ID}/Observation-1.ndjson`, count: 70, bytes: 7000 },
      { type: 'Observation', blobName: `${JOB_ID}/Observation-2.ndjson`, count: 30, bytes: 3000 },
      { type: 'Patient', blobName: `${JOB_ID}/Patient-1.ndjson`, count: 2, bytes: 900 },
    ];
    jobCompleted(telemetry, job, output, 5);
    const [event] = telemetry.items;
    expect(JSON.parse(event.properties?.resourceCounts ?? '{}')).toEqual({ Observation: 100, Patient: 2 });
    expect(event.properties).toMatchObject({ plannedTypes: 'Observation,Patient' });
    expect(event.measurements).toMatchObject({
      resources: 102,
      bytes: 10_900,
      files: 3,
      pages: 5,
      runDurationMs: 10_000,
      resourcesPerSecond: 10.2,
    });
  });

  it('given reasons that quote identifiers, when scrubbed, then the identifiers are gone and the gist stays', () => {
    const job = queuedJob(JOB_ID, groupFields);
    expect(scrubReason('Group diabetes-cohort-7 was not found.', job)).toBe(
      'Group [redacted] was not found.',
    );
    expect(scrubReason('Source refused https://fhir.example/Observation?subject=Patient/p-99 (400)')).toBe(
      'Source refused https://fhir.example/Observation?[redacted] (400)',
    );
    expect(scrubReason('Invalid reference Patient/p-77 in "subject"')).toBe(
      'Invalid reference Patient/[redacted] in "[redacted]"',
    );
    expect(scrubReason('Unknown error')).toBe('Unknown error');
  });

  it('given a running job, when it fails, then ExportJobFailed carries the scrubbed reason and status, and telemetry is flushed', async () => {
    let stored: ExportJobRecord = runningJob(JOB_ID, {
      ...groupFields,
      startedAt: '2024-05-01T10:00:01.000Z',
    });
    const jobs = {
      getJob: async () => stored,
      replaceJob: async (job: ExportJobRecord) => (stored = job),
      releaseSlots: async () => undefined,
    } as unknown as JobStore;
    const telemetry = recordingTelemetry();
    const deps = {
      jobs,
      telemetry,
      config: exportConfigFromEnv({}),
      now: () => new Date('2024-05-01T10:00:05.000Z'),
    } as unknown as ExportDeps;

    await failJob(deps, JOB_ID, { reason: 'Group diabetes-cohort-7 was not found.', statusCode: 404 });
    await failJob(deps, JOB_ID, { reason: 'again', statusCode: 500 });

    const failed = telemetry.items.filter((i) => i.name === TelemetryEvents.failed);
    expect(failed).toHaveLength(1);
    expect(failed[0].properties).toMatchObject({
      failureReason: 'Group [redacted] was not found.',
      failureStatusCode: '404',
      status: 'Failed',
    });
    expect(failed[0].measurements).toMatchObject({ statusCode: 404, durationMs: 5000 });
    expect(telemetry.flushes).toBe(1);
  });
});
