import type { ProgressDocument } from '../../../src/export/model';
import { progressText } from '../../../src/export/statusReport';
import { runningJob } from '../../support/jobRecords';

function unit(unitId: string, fields: Partial<ProgressDocument>): ProgressDocument {
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

const job = runningJob('job', {
  plannedUnits: [
    { unitId: 'Observation.r1', resourceType: 'Observation', rangeIndex: 1, estimate: 50 },
    { unitId: 'Observation.r2', resourceType: 'Observation', rangeIndex: 2, estimate: 50 },
    { unitId: 'Patient', resourceType: 'Patient', estimate: 20 },
  ],
});

describe('progressText with ranges', () => {
  it('given a split type with one range done, then the type is not done yet and a range not started counts with its estimate', () => {
    const text = progressText(job, [
      unit('Observation.r1', { done: true, resourceCount: 48 }),
      unit('Observation.r2', {}),
      unit('Patient', { done: true, resourceCount: 20 }),
    ]);
    expect(text).toBe('57% (68 of 118 resources, 1/2 types)');
  });

  it('given every range of a type done, then the type counts as done once', () => {
    const text = progressText(job, [
      unit('Observation.r1', { done: true, resourceCount: 48 }),
      unit('Observation.r2', { done: true, resourceCount: 52 }),
      unit('Patient', { page: 1, resourceCount: 10, total: 20 }),
    ]);
    expect(text).toBe('91% (110 of 120 resources, 1/2 types)');
  });
});
