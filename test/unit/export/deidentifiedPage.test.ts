/**
 * The export's side of de-identification, with the real engine: a page's block, the bounded skip
 * counts and what the error file says of them, the per-job de-identifier cache, and the keys
 * generated at kick-off.
 */
import { deidEngine } from '../../../src/deid';
import type { Deidentifier } from '../../../src/deid/contract';
import { newDeidConfigDocument, type LoadedConfiguration } from '../../../src/export/anonymizationConfig';
import { deidentifiedPageData, deidSkipOutcomes } from '../../../src/export/deidPage';
import { DeidentifierCache } from '../../../src/export/deidentifierCache';
import type { DeidConfigDocument, ProgressDocument } from '../../../src/export/model';
import type { SearchPage } from '../../../src/sources/searchSource';

const CONFIG = {
  processingErrors: 'skip',
  fhirPathRules: [
    { path: 'Resource.id', method: 'cryptoHash' },
    { path: 'Patient.gender', method: 'substitute', replaceWith: { code: 'x' } },
    { path: 'Observation.status', method: 'redact' },
  ],
  parameters: { cryptoHashKey: 'k'.repeat(32) },
};

function page(resources: object[]): SearchPage {
  return {
    resources: resources.map((r, i) => (i % 2 === 0 ? JSON.stringify(r) : Buffer.from(JSON.stringify(r)))),
  };
}

function lines(data: Buffer): Array<Record<string, unknown>> {
  return data
    .toString('utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const deidentifier = deidEngine.deidentifier(deidEngine.compile(JSON.stringify(CONFIG)), {}, 'job-1');

describe('deidentifiedPageData', () => {
  it('given a page of text and byte lines, when de-identified with _elements, then each line is de-identified first and cut after, labels kept', () => {
    const result = deidentifiedPageData(
      page([
        {
          resourceType: 'Observation',
          id: 'o1',
          status: 'final',
          code: { text: 'x' },
          note: [{ text: 'n' }],
        },
        { resourceType: 'Observation', id: 'o2', status: 'final', code: { text: 'y' } },
      ]),
      ['code'],
      deidentifier,
      undefined,
    );
    expect(result.count).toBe(2);
    expect(result.skipped).toBeUndefined();
    const [first, second] = lines(result.data);
    expect(Object.keys(first).sort()).toEqual(['code', 'id', 'meta', 'resourceType']);
    expect(first.id).not.toBe('o1');
    expect(second.id).not.toBe('o2');
    const meta = first.meta as { security: Array<{ code: string }>; tag: Array<{ code: string }> };
    expect(meta.security.map((s) => s.code)).toEqual(expect.arrayContaining(['CRYTOHASH', 'REDACTED']));
    expect(meta.tag.map((t) => t.code)).toEqual(['SUBSETTED']);
  });

  it('given resources a rule cannot process under skip, when de-identified, then stubs are written and counted per rule and reason, added to the counts so far', () => {
    const result = deidentifiedPageData(
      page([
        { resourceType: 'Patient', id: 'p1', gender: 'male' },
        { resourceType: 'Patient', id: 'p2', gender: 'female' },
        { resourceType: 'Patient', id: 'p3' },
      ]),
      [],
      deidentifier,
      [{ ruleIndex: 1, reason: 'substitute needs a string for a primitive', count: 5 }],
    );
    expect(lines(result.data).map((r) => Object.keys(r).sort())).toEqual([
      ['meta', 'resourceType'],
      ['meta', 'resourceType'],
      ['id', 'meta', 'resourceType'],
    ]);
    expect(result.skipped).toEqual([
      { ruleIndex: 1, reason: 'substitute needs a string for a primitive', count: 7 },
    ]);
  });

  it('given more distinct reasons than a unit keeps, when counted, then the rest are counted together', () => {
    let reason = 0;
    const failing: Deidentifier = {
      deidentify: (resource) => ({ resource, skipped: { ruleIndex: reason, reason: `reason ${reason++}` } }),
    };
    const resources = Array.from({ length: 30 }, (_, i) => ({ resourceType: 'Patient', id: `p${i}` }));
    const { skipped } = deidentifiedPageData(page(resources), [], failing, undefined);
    expect(skipped).toHaveLength(20);
    expect(skipped?.[19]).toEqual({ ruleIndex: -1, reason: 'other rules and reasons', count: 11 });
    expect(skipped?.reduce((n, s) => n + s.count, 0)).toBe(30);
  });
});

describe('deidSkipOutcomes', () => {
  it('given skip counts in several units of a type, when reported, then one warning per type, rule and reason sums them', () => {
    const unit = (unitId: string, resourceType: string, deidSkipped: ProgressDocument['deidSkipped']) =>
      ({ unitId, resourceType, deidSkipped }) as ProgressDocument;
    const outcomes = deidSkipOutcomes([
      unit('Patient.r1', 'Patient', [{ ruleIndex: 1, reason: 'bad', count: 2 }]),
      unit('Patient.r2', 'Patient', [{ ruleIndex: 1, reason: 'bad', count: 3 }]),
      unit('Observation', 'Observation', [{ ruleIndex: 4, reason: 'worse', count: 1 }]),
      unit('Condition', 'Condition', undefined),
    ]);
    expect(outcomes.map((o) => o.issue[0].diagnostics)).toEqual([
      '1 Observation resource could not be de-identified by rule 4 (worse); written as a redacted stub.',
      '5 Patient resources could not be de-identified by rule 1 (bad); written as redacted stubs.',
    ]);
    expect(outcomes.every((o) => o.issue[0].severity === 'warning')).toBe(true);
  });
});

describe('DeidentifierCache', () => {
  const doc: DeidConfigDocument = {
    id: 'job-1:deid',
    jobId: 'job-1',
    docType: 'deid',
    configBase64: Buffer.from(`\uFEFF${JSON.stringify(CONFIG)}`).toString('base64'),
    missingKeys: {},
    createdAt: '2025-01-01T00:00:00.000Z',
  };

  it('given lanes of one job asking at once, when served, then the pinned document is read and compiled once', async () => {
    const read = jest.fn(async () => doc);
    const cache = new DeidentifierCache(deidEngine, read);
    const [a, b] = await Promise.all([cache.forJob('job-1'), cache.forJob('job-1')]);
    expect(a).toBe(b);
    expect(await cache.forJob('job-1')).toBe(a);
    expect(read).toHaveBeenCalledTimes(1);
  });

  it('given a failed read, when asked again, then it reads again', async () => {
    const read = jest
      .fn<Promise<DeidConfigDocument | undefined>, [string]>()
      .mockRejectedValueOnce(new Error('Cosmos DB is down'))
      .mockResolvedValue(doc);
    const cache = new DeidentifierCache(deidEngine, read);
    await expect(cache.forJob('job-1')).rejects.toThrow('Cosmos DB is down');
    await expect(cache.forJob('job-1')).resolves.toBeDefined();
    expect(read).toHaveBeenCalledTimes(2);
  });
});

describe('newDeidConfigDocument', () => {
  it('given a configuration without keys, when pinned, then only the keys it needs are generated, fresh per job, of the sizes the methods take', () => {
    const text = JSON.stringify({
      fhirPathRules: [
        { path: 'Resource.id', method: 'cryptoHash' },
        { path: 'Patient.name', method: 'encrypt' },
      ],
    });
    const loaded = {
      data: Buffer.from(text),
      compiled: deidEngine.compile(text),
    } as unknown as LoadedConfiguration;
    const one = newDeidConfigDocument('job-1', loaded, new Date());
    const two = newDeidConfigDocument('job-2', loaded, new Date());
    expect(Object.keys(one.missingKeys).sort()).toEqual(['cryptoHashKey', 'encryptKey']);
    expect(one.missingKeys.cryptoHashKey).toMatch(/^[0-9a-f]{64}$/);
    expect(Buffer.byteLength(one.missingKeys.encryptKey, 'utf8')).toBe(32);
    expect(two.missingKeys.cryptoHashKey).not.toBe(one.missingKeys.cryptoHashKey);
    expect(Buffer.from(one.configBase64, 'base64').toString('utf8')).toBe(text);
    // The engine takes the generated keys.
    expect(() => deidEngine.deidentifier(loaded.compiled, one.missingKeys, 'job-1')).not.toThrow();
  });
});
