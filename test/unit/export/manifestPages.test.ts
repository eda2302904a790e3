import type { ExportDeps } from '../../../src/export/exportDeps';
import {
  closedFiles,
  completedFiles,
  manifestReport,
  pagesToAdd,
  type ManifestUrls,
} from '../../../src/export/manifestPages';
import type {
  ExportJobRecord,
  ManifestOutputEntry,
  ManifestPageDocument,
  ProgressDocument,
  ProgressFile,
} from '../../../src/export/model';
import type { BulkManifest, StatusReport } from '../../../src/export/statusReport';
import { exportRequest } from '../../support/exportRequests';
import { completedJob, progressDocument, runningJob } from '../../support/jobRecords';

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

describe('completedFiles', () => {
  it('lists output, then deletion files, then error files, each marked for its array', () => {
    const job = completedJob('job', {
      output: [entry('job/Patient-1.ndjson')],
      deleted: [entry('job/Patient-deleted-1.ndjson')],
      errorFiles: [{ ...entry('job/OperationOutcome-warnings.ndjson'), type: 'OperationOutcome' }],
    });
    expect(completedFiles(job).map((f) => [f.blobName, f.list])).toEqual([
      ['job/Patient-1.ndjson', undefined],
      ['job/Patient-deleted-1.ndjson', 'deleted'],
      ['job/OperationOutcome-warnings.ndjson', 'error'],
    ]);
  });
});

describe('manifestReport under allowPartialManifests', () => {
  const request = exportRequest({ allowPartialManifests: true, types: ['Patient', 'Observation'] });
  const deid = { configuration: 'c.json', etag: 'e', sha256: 'abc', processingErrors: 'skip' as const };
  const warnings = {
    type: 'OperationOutcome',
    blobName: 'job/OperationOutcome-warnings.ndjson',
    count: 1,
    bytes: 10,
  };
  const urls: ManifestUrls = {
    fileUrl: (_job, blobName) => Promise.resolve(`https://files/${blobName}`),
    pageUrl: (jobId, page) => `https://pages/${jobId}/${page}`,
  };

  /** Deps whose job store holds the pages created and the progress of one running Patient unit. */
  function depsWith(progress: ProgressDocument[]): ExportDeps {
    const pages: ManifestPageDocument[] = [];
    return {
      config: { manifestPageFiles: 2, fileAccess: 'download', pollRetryAfterSeconds: 5 },
      now: () => new Date('2025-01-01T00:00:00.000Z'),
      jobs: {
        listProgress: () => Promise.resolve(progress),
        listManifestPages: () => Promise.resolve([...pages]),
        createManifestPage: (page: ManifestPageDocument) => {
          if (pages.some((p) => p.page === page.page)) return Promise.resolve(false);
          pages.push(page);
          return Promise.resolve(true);
        },
      },
    } as unknown as ExportDeps;
  }

  const manifestOf = (report: StatusReport): BulkManifest => {
    if (report.state === 'failed' || !report.manifest) throw new Error(`no manifest: ${report.state}`);
    return report.manifest;
  };
  const withoutLink = ({ link: _link, ...rest }: BulkManifest) => rest;

  it('serves page 1 unchanged but for its next link once the job completes; the error file goes on a page appended then', async () => {
    const progress = [
      unit('Patient', [file('job/Patient-1.ndjson', 1), file('job/Patient-2.ndjson', 2)], false),
    ];
    const deps = depsWith(progress);
    const fields = { request, warnings: ['_madeUp ignored'], deidentification: deid };
    const running = manifestOf(
      await manifestReport(deps, runningJob('job', fields), ['system/*.read'], urls),
    );
    expect(running.output.map((o) => o.url)).toEqual(['https://files/job/Patient-1.ndjson']);
    expect(running.error).toEqual([]);
    expect(running.link).toBeUndefined();

    const completed: ExportJobRecord = completedJob('job', {
      ...fields,
      output: [entry('job/Patient-1.ndjson'), entry('job/Patient-2.ndjson')],
      errorFiles: [warnings],
    });
    const first = manifestOf(await manifestReport(deps, completed, ['system/*.read'], urls));
    expect(JSON.stringify(withoutLink(first))).toBe(JSON.stringify(running));
    expect(first.link).toEqual([{ relation: 'next', url: 'https://pages/job/2' }]);
    const second = manifestOf(await manifestReport(deps, completed, ['system/*.read'], urls, 2));
    expect(second.output.map((o) => o.url)).toEqual(['https://files/job/Patient-2.ndjson']);
    expect(second.error).toEqual([
      { type: 'OperationOutcome', url: 'https://files/job/OperationOutcome-warnings.ndjson', count: 1 },
    ]);
    expect(second.extension).toEqual({ deidentification: deid });
    expect(second.link).toBeUndefined();
  });

  it('puts error files on a page of their own when every output file was listed while the job ran, and shows them whatever the scopes', async () => {
    const deps = depsWith([unit('Patient', [file('job/Patient-1.ndjson', 1)], true)]);
    const scopes = ['system/Patient.read'];
    const running = manifestOf(await manifestReport(deps, runningJob('job', { request }), scopes, urls));
    const completed = completedJob('job', {
      request,
      output: [entry('job/Patient-1.ndjson')],
      errorFiles: [warnings],
    });
    const first = manifestOf(await manifestReport(deps, completed, scopes, urls));
    expect(withoutLink(first)).toEqual(running);
    const second = manifestOf(await manifestReport(deps, completed, scopes, urls, 2));
    expect(second.output).toEqual([]);
    expect(second.error.map((e) => e.url)).toEqual(['https://files/job/OperationOutcome-warnings.ndjson']);
  });

  it('answers a job without allowPartialManifests with the whole manifest, error files included', async () => {
    const deps = depsWith([]);
    const completed = completedJob('job', {
      output: [entry('job/Patient-1.ndjson')],
      errorFiles: [warnings],
    });
    const manifest = manifestOf(await manifestReport(deps, completed, ['system/*.read'], urls));
    expect(manifest.output).toHaveLength(1);
    expect(manifest.error).toHaveLength(1);
    expect(manifest.link).toBeUndefined();
  });
});
