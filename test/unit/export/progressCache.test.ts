import type { ProgressDocument } from '../../../src/export/model';
import { ProgressCache } from '../../../src/export/progressCache';

function progress(unitId: string, overrides: Partial<ProgressDocument> = {}): ProgressDocument {
  return {
    jobId: 'job-1',
    unitId,
    page: 1,
    done: false,
    _etag: `"${unitId}"`,
    ...overrides,
  } as ProgressDocument;
}

describe('ProgressCache', () => {
  it('given a saved document, when asked for its unit, then it is returned until forgotten', () => {
    const cache = new ProgressCache(8);
    const saved = progress('Patient');
    cache.remember(saved);
    expect(cache.get('job-1', 'Patient')).toBe(saved);
    expect(cache.get('job-2', 'Patient')).toBeUndefined();
    cache.forget('job-1', 'Patient');
    expect(cache.get('job-1', 'Patient')).toBeUndefined();
  });

  it('given a finished unit, when remembered, then its earlier document is dropped', () => {
    const cache = new ProgressCache(8);
    cache.remember(progress('Patient'));
    cache.remember(progress('Patient', { page: 2, done: true }));
    expect(cache.get('job-1', 'Patient')).toBeUndefined();
  });

  it('given a document without an etag, when remembered, then it is not kept (it could not be checkpointed)', () => {
    const cache = new ProgressCache(8);
    cache.remember(progress('Patient', { _etag: undefined }));
    expect(cache.get('job-1', 'Patient')).toBeUndefined();
  });

  it('given a full cache, when another unit is remembered, then the oldest goes', () => {
    const cache = new ProgressCache(2);
    cache.remember(progress('A'));
    cache.remember(progress('B'));
    cache.remember(progress('A', { page: 2 }));
    cache.remember(progress('C'));
    expect(cache.get('job-1', 'B')).toBeUndefined();
    expect(cache.get('job-1', 'A')?.page).toBe(2);
    expect(cache.get('job-1', 'C')).toBeDefined();
  });

  it('given a size of 0, when remembering, then nothing is kept', () => {
    const cache = new ProgressCache(0);
    cache.remember(progress('Patient'));
    expect(cache.get('job-1', 'Patient')).toBeUndefined();
  });
});
