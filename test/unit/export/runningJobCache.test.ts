import type { ExportJobRecord } from '../../../src/export/model';
import { RunningJobCache } from '../../../src/export/runningJobCache';

function record(status: ExportJobRecord['status']): ExportJobRecord {
  return { jobId: 'job-1', status } as ExportJobRecord;
}

describe('RunningJobCache', () => {
  let now: number;
  let stored: ExportJobRecord | undefined;
  let reads: number;
  const read = async (): Promise<ExportJobRecord | undefined> => {
    reads += 1;
    return stored;
  };

  beforeEach(() => {
    now = 0;
    stored = record('Running');
    reads = 0;
  });

  it('given a Running job, when asked again within the max age, then it is read once; after it, again', async () => {
    const cache = new RunningJobCache(read, 1000, () => now);
    await cache.get('job-1');
    now = 999;
    stored = record('Cancelled');
    expect((await cache.get('job-1'))?.status).toBe('Running');
    expect(reads).toBe(1);
    now = 1000;
    expect((await cache.get('job-1'))?.status).toBe('Cancelled');
    expect(reads).toBe(2);
  });

  it('given a job that is not Running, when asked again, then it is read every time', async () => {
    stored = record('Completed');
    const cache = new RunningJobCache(read, 1000, () => now);
    await cache.get('job-1');
    await cache.get('job-1');
    stored = undefined;
    expect(await cache.get('job-1')).toBeUndefined();
    expect(reads).toBe(3);
  });

  it('given a forgotten job, when asked, then it is read again', async () => {
    const cache = new RunningJobCache(read, 1000, () => now);
    await cache.get('job-1');
    cache.forget('job-1');
    await cache.get('job-1');
    expect(reads).toBe(2);
  });

  it('given a max age of 0, when asked twice, then it is read twice', async () => {
    const cache = new RunningJobCache(read, 0, () => now);
    await cache.get('job-1');
    await cache.get('job-1');
    expect(reads).toBe(2);
  });

  it('given lanes asking at the same moment, when the record is not cached, then they share one read', async () => {
    const cache = new RunningJobCache(read, 1000, () => now);
    const records = await Promise.all([cache.get('job-1'), cache.get('job-1'), cache.get('job-1')]);
    expect(records.every((r) => r?.status === 'Running')).toBe(true);
    expect(reads).toBe(1);
  });

  it('given a failing read, when asked again, then the failure is not remembered', async () => {
    let fail = true;
    const cache = new RunningJobCache(
      async () => {
        reads += 1;
        if (fail) throw new Error('store down');
        return stored;
      },
      1000,
      () => now,
    );
    await expect(cache.get('job-1')).rejects.toThrow('store down');
    fail = false;
    expect((await cache.get('job-1'))?.status).toBe('Running');
    expect(reads).toBe(2);
  });
});
