/** The deletion units of a `_since` export, their Bundle lines and the manifest's `deleted` files. */
import {
  deletedUnitId,
  deletionBundleLine,
  manifestDeleted,
  planDeletions,
} from '../../../src/export/deletions';
import type { ExportJobRecord, ExportRequest, ProgressDocument } from '../../../src/export/model';
import type { DeletionSource } from '../../../src/sources/deletionSource';

function jobWith(request: Partial<ExportRequest>): ExportJobRecord {
  return {
    request: { level: 'system', types: [], typeFilters: {}, elements: [], patients: [], ...request },
  } as unknown as ExportJobRecord;
}

const historyOf = (types: string[]): DeletionSource => ({
  deletionSupport: (type) =>
    Promise.resolve(types.includes(type) ? { supported: true } : { supported: false, reason: 'no history' }),
  deletions: () => Promise.resolve({ deleted: [] }),
});

describe('deletionBundleLine', () => {
  it('is a transaction Bundle with one DELETE entry naming Type/id, stamped with the deletion time', () => {
    expect(
      JSON.parse(deletionBundleLine('Patient', { id: 'p1', deletedAt: '2024-05-01T00:00:00.000Z' })),
    ).toEqual({
      resourceType: 'Bundle',
      meta: { lastUpdated: '2024-05-01T00:00:00.000Z' },
      type: 'transaction',
      entry: [{ request: { method: 'DELETE', url: 'Patient/p1' } }],
    });
  });

  it('has no meta when the source gave no time', () => {
    expect(JSON.parse(deletionBundleLine('Observation', { id: 'o' })).meta).toBeUndefined();
  });
});

describe('planDeletions', () => {
  const since = '2024-01-01T00:00:00Z';

  it('given no _since, plans nothing and says nothing', async () => {
    expect(await planDeletions({ deletions: historyOf(['Patient']) }, jobWith({}), ['Patient'])).toEqual({
      units: [],
      notices: [],
    });
  });

  it('given _since, plans one deletion unit per type the source can tell, and names the others', async () => {
    const plan = await planDeletions({ deletions: historyOf(['Patient']) }, jobWith({ since }), [
      'Observation',
      'Patient',
    ]);
    expect(plan.units).toEqual([{ unitId: 'Patient.deleted', resourceType: 'Patient', kind: 'deleted' }]);
    expect(plan.notices).toEqual(['Deleted Observation resources are not reported: no history.']);
  });

  it('given a _typeFilter for a type, reports that its deletions are not listed', async () => {
    const plan = await planDeletions(
      { deletions: historyOf(['Patient']) },
      jobWith({ since, typeFilters: { Patient: ['active=true'] } }),
      ['Patient'],
    );
    expect(plan.units).toEqual([]);
    expect(plan.notices[0]).toMatch(/Deleted Patient resources are not reported: _typeFilter/);
  });

  it('given a Patient-level export or a source without deletions, says deletions are not reported', async () => {
    const patientLevel = await planDeletions(
      { deletions: historyOf(['Patient']) },
      jobWith({ since, level: 'patient' }),
      ['Patient'],
    );
    expect(patientLevel.units).toEqual([]);
    expect(patientLevel.notices[0]).toMatch(/not reported for Patient- and Group-level exports/);
    const none = await planDeletions({}, jobWith({ since }), ['Patient']);
    expect(none.notices).toEqual([
      'Deleted resources are not reported: the data source cannot list deletions.',
    ]);
  });
});

describe('manifestDeleted', () => {
  const progress = (unitId: string, type: string, kind: 'deleted' | undefined, counts: number[]) =>
    ({
      unitId,
      resourceType: type,
      ...(kind ? { kind } : {}),
      files: counts.map((count, i) => ({
        part: i + 1,
        blobName: `j/${unitId}-${i + 1}`,
        blockIds: [],
        count,
        bytes: 10,
      })),
    }) as unknown as ProgressDocument;

  it('lists the non-empty files of the deletion units only, by type then part, with the type they delete', () => {
    expect(
      manifestDeleted([
        progress(deletedUnitId('Patient'), 'Patient', 'deleted', [2, 1]),
        progress('Patient', 'Patient', undefined, [5]),
        progress(deletedUnitId('Encounter'), 'Encounter', 'deleted', [0]),
        progress(deletedUnitId('Condition'), 'Condition', 'deleted', [3]),
      ]),
    ).toEqual([
      { type: 'Condition', blobName: 'j/Condition.deleted-1', count: 3, bytes: 10 },
      { type: 'Patient', blobName: 'j/Patient.deleted-1', count: 2, bytes: 10 },
      { type: 'Patient', blobName: 'j/Patient.deleted-2', count: 1, bytes: 10 },
    ]);
  });
});
