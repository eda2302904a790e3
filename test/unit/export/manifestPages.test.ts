import { closedFiles, pagesToAdd } from '../../../src/export/manifestPages';
import type { ManifestOutputEntry, ProgressDocument, ProgressFile } from '../../../src/export/model';
import { progressDocument } from '../../support/jobRecords';

function file(blobName: string, part: number, count = 2): ProgressFile {
  return { part, blobName, blockIds: [], count, bytes: count * 100 };
}

function unit(unitId: string, files: ProgressFile[], done: boolean, rangeIndex?: number): ProgressDocument {
  return progressDocument(unitId, { rangeIndex, page: 3, done, files });
}

const entry = (blobName: string): ManifestOutputEntry => ({
  type: 'Patient',
  blobName,
  count: 1,
  bytes: 10,
});

describe('closedFiles', () => {
  it('lists every file of a finished unit and every part but the last of a running one', () => {
    const closed = closedFiles([
      unit('Patient', [file('job/Patient-1.ndjson', 1), file('job/Patient-2.ndjson', 2)], true),
      unit(
        'Observation.r1',
        [
          file('job/Observation-r1-1.ndjson', 1),
          file('job/Observation-r1-2.ndjson', 2),
          file('job/Observation-r1-3.ndjson', 3),
        ],
        false,
        1,
      ),
      unit('Condition', [file('job/Condition-1.ndjson', 1)], false),
    ]);
    expect(closed.map((f) => f.blobName)).toEqual([
      'job/Observation-r1-1.ndjson',
      'job/Observation-r1-2.ndjson',
      'job/Patient-1.ndjson',
      'job/Patient-2.ndjson',
    ]);
    expect(closed[0]).toEqual({
      type: 'Observation',
      blobName: 'job/Observation-r1-1.ndjson',
      count: 2,
      bytes: 200,
    });
  });
});

describe('closedFiles of a _since export', () => {
  it('lists closed deletion files marked for the deleted array, under the type they delete', () => {
    const closed = closedFiles([
      unit('Patient', [file('job/Patient-1.ndjson', 1)], true),
      progressDocument('Patient.deleted', {
        kind: 'deleted',
        done: false,
        files: [file('job/Patient-deleted-1.ndjson', 1), file('job/Patient-deleted-2.ndjson', 2)],
      }),
    ]);
    expect(closed).toEqual([
      { type: 'Patient', blobName: 'job/Patient-1.ndjson', count: 2, bytes: 200 },
      { type: 'Patient', blobName: 'job/Patient-deleted-1.ndjson', count: 2, bytes: 200, list: 'deleted' },
    ]);
  });
});

describe('pagesToAdd', () => {
  const now = new Date('2025-01-01T00:00:00.000Z');

  it('puts the files no page lists on new pages of at most pageSize files, numbered on', () => {
    const first = pagesToAdd('job', [], [entry('a'), entry('b'), entry('c')], 2, now);
    expect(first.map((p) => [p.id, p.page, p.files.map((f) => f.blobName)])).toEqual([
      ['job:manifest:1', 1, ['a', 'b']],
      ['job:manifest:2', 2, ['c']],
    ]);
    const next = pagesToAdd('job', first, [entry('a'), entry('b'), entry('c'), entry('d')], 2, now);
    expect(next.map((p) => [p.page, p.files.map((f) => f.blobName)])).toEqual([[3, ['d']]]);
  });

  it('adds nothing when every file is listed already', () => {
    const pages = pagesToAdd('job', [], [entry('a')], 5, now);
    expect(pagesToAdd('job', pages, [entry('a')], 5, now)).toEqual([]);
  });
});
