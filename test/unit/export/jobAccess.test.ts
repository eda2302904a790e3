/**
 * Which of its own jobs a token may see, download from and cancel, by its scopes (jobAccess.ts), and
 * how long the SAS links of a job live (fileUrls.ts). Pure logic over job records.
 */
import { ForbiddenError } from '../../../src/auth/errors';
import { NotFoundError } from '../../../src/export/errors';
import { sasExpiresOn } from '../../../src/export/fileUrls';
import { assertCanCancel, fileSeenBy, jobSeenBy, jobTypes } from '../../../src/export/jobAccess';
import type { ManifestOutputEntry } from '../../../src/export/model';
import { exportRequest } from '../../support/exportRequests';
import { completedJob, queuedJob, runningJob } from '../../support/jobRecords';

const entry = (type: string, part = 1): ManifestOutputEntry => ({
  type,
  blobName: `job-1/${type}-${part}.ndjson`,
  count: 1,
  bytes: 10,
});
const warnings = {
  type: 'OperationOutcome',
  blobName: 'job-1/OperationOutcome-warnings.ndjson',
  count: 1,
  bytes: 9,
};
const both = exportRequest({ types: ['Observation', 'Patient'] });
/** A job stored before `checkedTypes` existed: no `_type`, its types are those of its plan and files. */
const legacy = completedJob('job-1', {
  plannedUnits: [
    { unitId: 'Observation', resourceType: 'Observation' },
    { unitId: 'Patient', resourceType: 'Patient' },
  ],
  output: [entry('Observation'), entry('Patient'), entry('Patient', 2)],
  errorFiles: [warnings],
});

describe('jobTypes', () => {
  it('given a job without _type, not planned, started by a token allowed every type, then its types are unknown', () => {
    expect(jobTypes(queuedJob('job-1'))).toBeUndefined();
  });
  it('given _type, checked types or a plan, then their union', () => {
    expect(jobTypes(queuedJob('job-1', { request: both }))).toEqual(['Observation', 'Patient']);
    expect(jobTypes(queuedJob('job-1', { checkedTypes: ['Patient'] }))).toEqual(['Patient']);
    expect(jobTypes(legacy)).toEqual(['Observation', 'Patient']);
  });
});

describe('jobSeenBy', () => {
  it('given scopes for every type, then the whole job', () => {
    expect(jobSeenBy(['system/*.rs'], legacy)).toBe(legacy);
  });
  it('given scopes for some types, then the output of those only, and the error files', () => {
    const seen = jobSeenBy(['system/Patient.read'], legacy);
    expect(seen.output?.map((o) => o.type)).toEqual(['Patient', 'Patient']);
    expect(seen.errorFiles).toEqual([warnings]);
  });
  it('given an export organized by patient, then its files only with a scope for every type they hold', () => {
    const organized = completedJob('job-1', {
      request: exportRequest({ level: 'patient', organizeOutputBy: 'Patient' }),
      plannedUnits: [
        { unitId: 'Patient.organized', resourceType: 'Patient', organizedTypes: ['Patient', 'Observation'] },
      ],
      output: [entry('Patient'), entry('Patient', 2)],
    });
    expect(jobTypes(organized)).toEqual(['Observation', 'Patient']);
    expect(jobSeenBy(['system/Patient.rs', 'system/Observation.rs'], organized).output).toHaveLength(2);
    expect(jobSeenBy(['system/Patient.rs'], organized).output).toEqual([]);
    expect(() => fileSeenBy(['system/Patient.rs'], organized, 'Patient-1.ndjson')).toThrow(ForbiddenError);
  });
  it('given scopes for none of the types, then 403, also while the job runs', () => {
    expect(() => jobSeenBy(['system/Device.rs'], legacy)).toThrow(ForbiddenError);
    expect(() => jobSeenBy(['system/Device.rs'], runningJob('job-1', { request: both }))).toThrow(
      ForbiddenError,
    );
    expect(() => jobSeenBy(['user/*.read', 'patient/*.rs'], legacy)).toThrow(ForbiddenError);
  });
});

describe('fileSeenBy', () => {
  it('given a file of a type the scopes allow, or an error file, then its entry', () => {
    expect(fileSeenBy(['system/Patient.rs'], legacy, 'Patient-2.ndjson')).toEqual(entry('Patient', 2));
    expect(fileSeenBy(['system/Patient.rs'], legacy, 'OperationOutcome-warnings.ndjson')).toEqual(warnings);
  });
  it('given a file of another type, then 403; a name not in the manifest, then 404', () => {
    expect(() => fileSeenBy(['system/Patient.rs'], legacy, 'Observation-1.ndjson')).toThrow(ForbiddenError);
    expect(() => fileSeenBy(['system/Patient.rs'], legacy, 'Device-1.ndjson')).toThrow(NotFoundError);
  });
});

describe('assertCanCancel', () => {
  it('given scopes for every type of the job, then it may cancel', () => {
    expect(() => assertCanCancel(['system/Observation.rs', 'system/Patient.read'], legacy)).not.toThrow();
    expect(() =>
      assertCanCancel(['system/Patient.rs'], queuedJob('job-1', { checkedTypes: ['Patient'] })),
    ).not.toThrow();
    expect(() => assertCanCancel(['system/*.read'], queuedJob('job-1'))).not.toThrow();
  });
  it('given scopes that miss a type, or a job whose types are unknown yet, then 403', () => {
    expect(() => assertCanCancel(['system/Patient.rs'], legacy)).toThrow(/Observation/);
    expect(() => assertCanCancel(['system/Patient.rs'], queuedJob('job-1'))).toThrow(ForbiddenError);
  });
});

describe('sasExpiresOn', () => {
  const now = new Date('2024-01-01T00:00:00.000Z');
  it('given a lifetime that ends before the job, then the lifetime', () => {
    expect(sasExpiresOn(now, 60, { expiresAt: '2024-01-02T00:00:00.000Z' }).toISOString()).toBe(
      '2024-01-01T01:00:00.000Z',
    );
  });
  it("given a lifetime beyond the job's Expires, then the job's Expires", () => {
    expect(sasExpiresOn(now, 7 * 24 * 60, { expiresAt: '2024-01-01T00:30:00.000Z' }).toISOString()).toBe(
      '2024-01-01T00:30:00.000Z',
    );
  });
});
