import { blockId, MAX_PAGE, MAX_PART, parseBlockId } from '../../src/destination/blockIds';

describe('blockId', () => {
  test('is deterministic and differs for every input', () => {
    expect(blockId('job-1', 'Patient', 1, 0)).toBe(blockId('job-1', 'Patient', 1, 0));
    const ids = new Set([
      blockId('job-1', 'Patient', 1, 0),
      blockId('job-1', 'Patient', 1, 1),
      blockId('job-1', 'Patient', 2, 0),
      blockId('job-1', 'Observation', 1, 0),
      // Ranges of one type are units of their own.
      blockId('job-1', 'Observation.r1', 1, 0),
      blockId('job-1', 'Observation.r2', 1, 0),
      blockId('job-2', 'Patient', 1, 0),
      // The separator keeps (ab, c) and (a, bc) apart.
      blockId('jobA', 'bc', 1, 0),
      blockId('jobAb', 'c', 1, 0),
      // A page's block staged ahead has an id of its own.
      blockId('job-1', 'Patient', 1, 0, true),
    ]);
    expect(ids.size).toBe(10);
  });

  test('has one length for all inputs, at most 64 bytes before encoding, and is valid base64', () => {
    const samples = [
      blockId('j', 'A', 0, 0),
      blockId('a-very-long-job-id-'.repeat(10), 'MedicinalProductUndesirableEffect', MAX_PART, MAX_PAGE),
      blockId('job', 'Patient', 12, 345678),
      blockId('job', 'Patient', 12, 345678, true),
    ];
    const lengths = new Set(samples.map((s) => s.length));
    expect(lengths.size).toBe(1);
    for (const s of samples) {
      expect(Buffer.from(s, 'base64').length).toBeLessThanOrEqual(64);
      expect(Buffer.from(s, 'base64').toString('base64')).toBe(s);
    }
  });

  test('decodes back to part and page', () => {
    expect(parseBlockId(blockId('job', 'Patient', 3, 42))).toMatchObject({
      part: 3,
      page: 42,
      stagedAhead: false,
    });
    expect(parseBlockId(blockId('job', 'Patient', 3, 42, true))).toMatchObject({
      part: 3,
      page: 42,
      stagedAhead: true,
    });
    expect(parseBlockId(Buffer.from('something else').toString('base64'))).toBeUndefined();
  });

  test.each([
    [-1, 0],
    [1.5, 0],
    [MAX_PART + 1, 0],
    [0, -1],
    [0, MAX_PAGE + 1],
    [0, Number.NaN],
  ])('rejects part %p page %p', (part, page) => {
    expect(() => blockId('job', 'Patient', part, page)).toThrow(RangeError);
  });
});
