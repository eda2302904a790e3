import { progressText } from '../../../src/export/statusReport';
import { progressDocument, runningJob } from '../../support/jobRecords';

const unit = progressDocument;

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
