/**
 * `runPageStep` and the job actions in process with the real adapters (Cosmos job store, Cosmos
 * source, Blob destination on the emulators): duplicate deliveries, a cancel between write and
 * checkpoint, a Group that vanished, and an error nobody expected.
 */
import { randomUUID } from 'node:crypto';
import { exportConfigFromEnv } from '../../../src/config';
import { SourceError } from '../../../src/export/errors';
import { BlobExportDestination, getBlobServiceClient } from '../../../src/destination/blobExportDestination';
import type { ExportDeps } from '../../../src/export/exportDeps';
import { cancelJob, completeJob, startJob } from '../../../src/export/jobActions';
import { newJobRecord } from '../../../src/export/kickoff';
import type {
  ExportJobRecord,
  ExportRequest,
  PlannedUnit,
  ProgressDocument,
} from '../../../src/export/model';
import { blobNameFor, runPageStep } from '../../../src/export/pageStep';
import { StageAhead } from '../../../src/export/stageAhead';
import { parseBlockId } from '../../../src/destination/blockIds';
import { ReadAheadSource } from '../../../src/sources/readAheadSource';
import { ProgressCache } from '../../../src/export/progressCache';
import { RunningJobCache } from '../../../src/export/runningJobCache';
import { getCosmosClient } from '../../../src/jobs/cosmosClient';
import { createCosmosJobStore, type CosmosJobStore } from '../../../src/jobs/cosmosJobStore';
import { createCosmosResourceWriter } from '../../../dev/demo/cosmosResourceWriter';
import { createCosmosSearchSource } from '../../../src/sources/cosmosSource';
import { lineText, type SearchSource } from '../../../src/sources/searchSource';
import { generateDataset } from '../../../dev/demo/syntheticFhir';
import { defaultOrchestrationSettings, exportRequest } from '../../support/exportRequests';
import { testConnectionInfo, uniqueName } from '../../support/testEnv';

const PAGE_SIZE = 3;
/** The jobs' owner, allowed every type. */
const OWNER = { clientId: 'test', scopes: ['system/*.read'] };

describe('the page step with real adapters', () => {
  const database = uniqueName('pagestep');
  const container = uniqueName('pagestep');
  let deps: ExportDeps;
  let jobs: CosmosJobStore;
  let destination: BlobExportDestination;
  const patients = [...generateDataset({ patients: 8, seed: 1 })].filter((r) => r.resourceType === 'Patient');

  beforeAll(async () => {
    const info = testConnectionInfo();
    const cosmos = getCosmosClient({ endpoint: info.cosmosEndpoint, key: info.cosmosKey });
    jobs = await createCosmosJobStore({ client: cosmos, databaseId: database, containerId: 'jobs' });
    const writer = await createCosmosResourceWriter(cosmos, database, 'resources');
    await writer.upsertAll(patients as never);
    const source = await createCosmosSearchSource(cosmos, database, 'resources');
    const blobService = getBlobServiceClient({ connectionString: info.storageConnectionString, maxTries: 1 });
    destination = new BlobExportDestination(blobService, container);
    deps = {
      jobs,
      // Both read for every page here; the cached cases have tests of their own.
      runningJobs: new RunningJobCache((jobId) => jobs.getJob(jobId), 0),
      progressCache: new ProgressCache(0),
      source,
      config: { ...exportConfigFromEnv({}), resourcesPerPage: PAGE_SIZE },
      destinationRef: destination.ref,
      destinationFor: () => destination,
      compartmentTypes: new Set(['Patient']),
      now: () => new Date(),
    };
  });
  afterAll(() => destination.containerClient.deleteIfExists());

  /** A Queued job for `request`, started (planned, Running) through `startJob`. */
  async function runningJob(
    request: Partial<ExportRequest> = {},
    on: ExportDeps = deps,
  ): Promise<ExportJobRecord> {
    const jobId = randomUUID();
    await jobs.createJob(
      newJobRecord({
        jobId,
        now: new Date(),
        request: exportRequest({
          requestUrl: 'http://localhost/$export?_type=Patient',
          types: ['Patient'],
          ...request,
        }),
        requestHash: jobId,
        destination: destination.ref,
        clientId: 'test',
        orchestration: defaultOrchestrationSettings(),
      }),
    );
    const started = await startJob(on, jobId);
    expect(started.outcome).toBe('started');
    return (await jobs.getJob(jobId)) as ExportJobRecord;
  }

  async function fileLines(jobId: string): Promise<string[]> {
    const blob = destination.containerClient.getBlobClient(blobNameFor(jobId, 'Patient', 1));
    const text = (await blob.downloadToBuffer()).toString('utf8');
    return text.split('\n').filter((l) => l !== '');
  }

  it('given a duplicate delivery of the same page, when both run at once, then both succeed, progress advances once and the file holds the page once', async () => {
    const job = await runningJob();
    const [first, second] = await Promise.all([
      runPageStep(deps, job.jobId, 'Patient'),
      runPageStep(deps, job.jobId, 'Patient'),
    ]);

    expect(first.outcome).toBe('written');
    expect(second.outcome).toBe('written');
    const progress = await jobs.getProgress(job.jobId, 'Patient');
    expect(progress?.page).toBe(1);
    expect(progress?.resourceCount).toBe(PAGE_SIZE);
    const ids = (await fileLines(job.jobId)).map((l) => (JSON.parse(l) as { id: string }).id);
    expect(ids).toHaveLength(PAGE_SIZE);
    expect(new Set(ids).size).toBe(PAGE_SIZE);

    // The next page continues after it: the whole unit still ends with each patient once.
    for (let i = 0; i < 10; i++) {
      const result = await runPageStep(deps, job.jobId, 'Patient');
      if (result.outcome === 'written' && result.done) break;
    }
    const all = (await fileLines(job.jobId)).map((l) => (JSON.parse(l) as { id: string }).id).sort();
    expect(all).toEqual(patients.map((p) => p.id).sort());
  });

  it('given a late duplicate of an earlier page, when it runs after later pages were written, then its commit is refused and the file keeps every page', async () => {
    const job = await runningJob();
    expect((await runPageStep(deps, job.jobId, 'Patient')).outcome).toBe('written');
    const beforePage1 = (await jobs.getProgress(job.jobId, 'Patient')) as ProgressDocument;
    let result = await runPageStep(deps, job.jobId, 'Patient');
    while (result.outcome === 'written' && !result.done)
      result = await runPageStep(deps, job.jobId, 'Patient');
    const finished = (await jobs.getProgress(job.jobId, 'Patient')) as ProgressDocument;
    expect(finished.page).toBeGreaterThan(2);

    // A duplicate delivery of page 1 that stalled until now: it read the progress as it was back then.
    let readsLeft = 1;
    const stalled: ExportDeps = {
      ...deps,
      jobs: Object.assign(Object.create(jobs) as CosmosJobStore, {
        getProgress: async (...args: Parameters<CosmosJobStore['getProgress']>) =>
          readsLeft-- > 0 ? beforePage1 : jobs.getProgress(...args),
      }),
    };
    const late = await runPageStep(stalled, job.jobId, 'Patient');
    expect(late).toMatchObject({ outcome: 'written', done: true, pageResources: 0 });
    const ids = (await fileLines(job.jobId)).map((l) => (JSON.parse(l) as { id: string }).id).sort();
    expect(ids).toEqual(patients.map((p) => p.id).sort());
    expect((await jobs.getProgress(job.jobId, 'Patient'))?._etag).toBe(finished._etag);
  });

  it('given the progress cached by this process, when a unit runs to the end, then the store is read once and every resource is written once', async () => {
    let reads = 0;
    const caching: ExportDeps = {
      ...deps,
      progressCache: new ProgressCache(16),
      jobs: Object.assign(Object.create(jobs) as CosmosJobStore, {
        getProgress: async (...args: Parameters<CosmosJobStore['getProgress']>) => {
          reads += 1;
          return jobs.getProgress(...args);
        },
      }),
    };
    const job = await runningJob();
    let result = await runPageStep(caching, job.jobId, 'Patient');
    while (result.outcome === 'written' && !result.done)
      result = await runPageStep(caching, job.jobId, 'Patient');
    expect(result).toMatchObject({ outcome: 'written', done: true, resources: patients.length });
    expect(reads).toBe(1);
    const ids = (await fileLines(job.jobId)).map((l) => (JSON.parse(l) as { id: string }).id).sort();
    expect(ids).toEqual(patients.map((p) => p.id).sort());
  });

  it('given a cached progress that another instance moved on, when the next page runs from it, then the stored progress wins and the file holds each resource once', async () => {
    const here: ExportDeps = { ...deps, progressCache: new ProgressCache(16) };
    const job = await runningJob();
    expect((await runPageStep(here, job.jobId, 'Patient')).outcome).toBe('written');
    // A duplicate delivery on another instance runs page 1 first.
    expect((await runPageStep(deps, job.jobId, 'Patient')).outcome).toBe('written');
    const moved = (await jobs.getProgress(job.jobId, 'Patient')) as ProgressDocument;

    // This instance still holds the progress of before page 1: refused, then the stored one is used.
    const stale = await runPageStep(here, job.jobId, 'Patient');
    expect(stale).toMatchObject({ outcome: 'written', pageResources: 0, pages: moved.page });
    let result = await runPageStep(here, job.jobId, 'Patient');
    while (result.outcome === 'written' && !result.done)
      result = await runPageStep(here, job.jobId, 'Patient');
    const ids = (await fileLines(job.jobId)).map((l) => (JSON.parse(l) as { id: string }).id).sort();
    expect(ids).toEqual(patients.map((p) => p.id).sort());
    expect((await jobs.getProgress(job.jobId, 'Patient'))?.resourceCount).toBe(patients.length);
  });

  it('given a small roll size, when a unit is exported, then its files roll over, hold every resource once, and only the open file keeps block ids', async () => {
    // Three patients a page, each page well over 1 KiB: every page after the first opens a new part.
    const rolling: ExportDeps = { ...deps, config: { ...deps.config, fileRollBytes: 1024 } };
    const job = await runningJob({}, rolling);
    let result = await runPageStep(rolling, job.jobId, 'Patient');
    while (result.outcome === 'written' && !result.done)
      result = await runPageStep(rolling, job.jobId, 'Patient');

    const progress = (await jobs.getProgress(job.jobId, 'Patient')) as ProgressDocument;
    const parts = [...progress.files].sort((a, b) => a.part - b.part);
    expect(parts.map((f) => f.part)).toEqual([1, 2, 3]);
    expect(parts.map((f) => f.count)).toEqual([3, 3, 2]);
    expect(parts.slice(0, -1).every((f) => f.blockIds.length === 0)).toBe(true);
    expect(parts[parts.length - 1].blockIds).toHaveLength(1);

    const ids: string[] = [];
    for (const file of parts) {
      const text = (
        await destination.containerClient.getBlobClient(file.blobName).downloadToBuffer()
      ).toString('utf8');
      const lines = text.split('\n').filter((l) => l !== '');
      expect(lines).toHaveLength(file.count);
      expect(Buffer.byteLength(text)).toBe(file.bytes);
      ids.push(...lines.map((l) => (JSON.parse(l) as { id: string }).id));
    }
    expect(ids.sort()).toEqual(patients.map((p) => p.id).sort());
  });

  it('given a type split into time ranges, when every range is exported, then each resource is in exactly one range, inside its bounds, and the manifest lists the files by range', async () => {
    // 8 patients over a threshold of 2: 4 ranges (fewer only if their updates are too close in time).
    const splitting: ExportDeps = {
      ...deps,
      config: { ...deps.config, resourcesPerPage: 2, rangeSplitThreshold: 2, maxRangesPerType: 4 },
    };
    const job = await runningJob({}, splitting);
    const units = job.plannedUnits ?? [];
    expect(units.length).toBeGreaterThan(1);
    expect(units.map((u) => u.unitId).sort()).toEqual(units.map((_, i) => `Patient.r${i + 1}`));
    expect(units.every((u) => u.estimate === Math.ceil(patients.length / units.length))).toBe(true);

    const byUnit = new Map<string, Array<{ id: string; lastUpdated: string }>>();
    for (const unit of units) {
      let result = await runPageStep(splitting, job.jobId, unit.unitId);
      for (let i = 0; result.outcome === 'written' && !result.done && i < 20; i++)
        result = await runPageStep(splitting, job.jobId, unit.unitId);
      expect(result).toMatchObject({ outcome: 'written', done: true, resourceType: 'Patient' });
      const progress = (await jobs.getProgress(job.jobId, unit.unitId)) as ProgressDocument;
      expect(progress).toMatchObject({ rangeIndex: unit.rangeIndex, resourceType: 'Patient' });
      const lines: Array<{ id: string; meta: { lastUpdated: string } }> = [];
      for (const file of progress.files) {
        expect(file.blobName).toBe(blobNameFor(job.jobId, 'Patient', file.part, unit.rangeIndex));
        const text = (
          await destination.containerClient.getBlobClient(file.blobName).downloadToBuffer()
        ).toString('utf8');
        lines.push(
          ...text
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => JSON.parse(l) as never),
        );
      }
      byUnit.set(
        unit.unitId,
        lines.map((r) => ({ id: r.id, lastUpdated: r.meta.lastUpdated })),
      );
      // Each resource lies in its range: [rangeStart, rangeEnd).
      for (const r of lines) {
        if (unit.rangeStart) expect(r.meta.lastUpdated >= unit.rangeStart).toBe(true);
        if (unit.rangeEnd) expect(r.meta.lastUpdated < unit.rangeEnd).toBe(true);
      }
    }
    const ids = [...byUnit.values()].flat().map((r) => r.id);
    expect(ids.sort()).toEqual(patients.map((p) => p.id).sort());
    // The split is real: more than one range holds resources.
    expect([...byUnit.values()].filter((list) => list.length > 0).length).toBeGreaterThan(1);

    expect(await completeJob(splitting, job.jobId)).toEqual({ outcome: 'completed' });
    const output = (await jobs.getJob(job.jobId))?.output ?? [];
    expect(output.reduce((n, o) => n + o.count, 0)).toBe(patients.length);
    expect(output.every((o) => o.type === 'Patient')).toBe(true);
    const order = output.map((o) => /-r(\d+)-(\d+)\.ndjson$/.exec(o.blobName)?.slice(1).map(Number));
    expect(order.every((o) => o !== undefined)).toBe(true);
    expect(order).toEqual(
      [...order].sort(
        (a, b) => (a as number[])[0] - (b as number[])[0] || (a as number[])[1] - (b as number[])[1],
      ),
    );
  });

  it('given a source that cannot describe its data, when a large export starts, then no type is split', async () => {
    const source = deps.source;
    const plain: SearchSource = {
      listResourceTypes: () => source.listResourceTypes(),
      search: (type, params, token) => source.search(type, params, token),
      checkTypeFilter: (type, query) => source.checkTypeFilter(type, query),
      read: (type, id) => source.read(type, id),
    };
    const job = await runningJob(
      {},
      {
        ...deps,
        source: plain,
        config: { ...deps.config, rangeSplitThreshold: 1, maxRangesPerType: 4 },
      },
    );
    expect(job.plannedUnits).toEqual([{ unitId: 'Patient', resourceType: 'Patient' }]);
    expect(await jobs.getProgress(job.jobId, 'Patient')).toBeDefined();
  });

  it('given a job cancelled after a page was written, when the page checkpoints, then it stops and the files are deleted', async () => {
    const job = await runningJob();
    const cancelling: ExportDeps = {
      ...deps,
      probe: (phase, at) => {
        if (phase === 'written' && at.jobId === job.jobId)
          cancelled = cancelJob(deps, job.jobId, OWNER, async () => undefined);
      },
    };
    let cancelled: Promise<unknown> | undefined;
    // The probe is synchronous: wait for the cancel inside the store call that follows it.
    const store = cancelling.jobs;
    cancelling.jobs = Object.assign(Object.create(store) as CosmosJobStore, {
      checkpointProgress: async (...args: Parameters<CosmosJobStore['checkpointProgress']>) => {
        await cancelled;
        return store.checkpointProgress(...args);
      },
    });

    const result = await runPageStep(cancelling, job.jobId, 'Patient');
    expect(result).toEqual({ outcome: 'stopped' });
    expect((await jobs.getJob(job.jobId))?.status).toBe('Cancelled');
    expect((await jobs.getProgress(job.jobId, 'Patient'))?.page).toBe(0);
    const left: string[] = [];
    for await (const blob of destination.containerClient.listBlobsFlat({ prefix: `${job.jobId}/` }))
      left.push(blob.name);
    expect(left).toEqual([]);
  });

  it('given a job record cached as Running, when the job is cancelled before the next page, then that page is refused at its checkpoint and leaves no files', async () => {
    const caching: ExportDeps = {
      ...deps,
      runningJobs: new RunningJobCache((jobId) => jobs.getJob(jobId), 60_000),
    };
    const job = await runningJob();
    expect((await runPageStep(caching, job.jobId, 'Patient')).outcome).toBe('written');
    await cancelJob(deps, job.jobId, OWNER, async () => undefined);

    // The cache still says Running: the page is searched and staged, then refused (the cancel deleted
    // the file, so its block list no longer commits) and cleaned up.
    const searches: string[] = [];
    const watched: ExportDeps = {
      ...caching,
      probe: (phase, at) => {
        if (at.jobId === job.jobId) searches.push(phase);
      },
    };
    expect(await runPageStep(watched, job.jobId, 'Patient')).toEqual({ outcome: 'stopped' });
    expect(searches).toEqual(['searched', 'staged']);
    expect((await jobs.getProgress(job.jobId, 'Patient'))?.page).toBe(1);
    const left: string[] = [];
    for await (const blob of destination.containerClient.listBlobsFlat({ prefix: `${job.jobId}/` }))
      left.push(blob.name);
    expect(left).toEqual([]);
    // The refusal dropped the cached record: the next page stops before searching.
    searches.length = 0;
    expect(await runPageStep(watched, job.jobId, 'Patient')).toEqual({ outcome: 'stopped' });
    expect(searches).toEqual([]);
  });

  it('given a running job and a finished one, when each is cancelled, then only the running one has orchestrations to stop', async () => {
    const running = await runningJob();
    const finished = await runningJob();
    let result = await runPageStep(deps, finished.jobId, 'Patient');
    while (result.outcome === 'written' && !result.done)
      result = await runPageStep(deps, finished.jobId, 'Patient');
    expect((await completeJob(deps, finished.jobId)).outcome).toBe('completed');

    const stopped: string[] = [];
    const stop = async (job: ExportJobRecord) => void stopped.push(job.jobId);
    await cancelJob(deps, running.jobId, OWNER, stop);
    await cancelJob(deps, finished.jobId, OWNER, stop);
    expect(stopped).toEqual([running.jobId]);
    for (const job of [running, finished]) expect((await jobs.getJob(job.jobId))?.status).toBe('Cancelled');
  });

  it('given a source whose pages can be released, when a page is written, then it is released once, after its block is stored; a page whose block failed is not', async () => {
    const job = await runningJob();
    const events: string[] = [];
    const releasing: SearchSource = Object.assign(Object.create(deps.source) as SearchSource, {
      search: async (...args: Parameters<SearchSource['search']>) => {
        const page = await deps.source.search(...args);
        events.push('searched');
        return { ...page, release: () => events.push('released') };
      },
    });
    let failStage = false;
    const recording = Object.assign(Object.create(destination) as BlobExportDestination, {
      stageBlock: async (...args: Parameters<BlobExportDestination['stageBlock']>) => {
        if (failStage) throw new Error('storage went away');
        await destination.stageBlock(...args);
        events.push('staged');
      },
    });
    const on: ExportDeps = { ...deps, source: releasing, destinationFor: () => recording };
    expect((await runPageStep(on, job.jobId, 'Patient')).outcome).toBe('written');
    expect(events).toEqual(['searched', 'staged', 'released']);

    events.length = 0;
    failStage = true;
    expect((await runPageStep(on, job.jobId, 'Patient')).outcome).toBe('failed');
    expect(events).toEqual(['searched']);
  });

  it('given a source whose page carries its NDJSON block, when a page is written, then the block is stored as it is and its line count is counted, without reading the lines; with _elements the lines are used', async () => {
    let linesRead = 0;
    const withBlock: SearchSource = Object.assign(Object.create(deps.source) as SearchSource, {
      search: async (...args: Parameters<SearchSource['search']>) => {
        const page = await deps.source.search(...args);
        const block = Buffer.from(page.resources.map((line) => `${lineText(line)}\n`).join(''));
        return {
          nextToken: page.nextToken,
          ndjson: { bytes: block, lines: page.resources.length },
          get resources() {
            linesRead++;
            return page.resources;
          },
        };
      },
    });
    const on: ExportDeps = { ...deps, source: withBlock };
    const whole = await runningJob({}, on);
    expect((await runPageStep(on, whole.jobId, 'Patient')).outcome).toBe('written');
    expect(linesRead).toBe(0);
    expect((await jobs.getProgress(whole.jobId, 'Patient'))?.resourceCount).toBe(PAGE_SIZE);
    const lines = await fileLines(whole.jobId);
    expect(lines).toHaveLength(PAGE_SIZE);
    expect(lines.every((line) => Object.keys(JSON.parse(line) as object).includes('name'))).toBe(true);

    const filtered = await runningJob({ elements: ['id'] }, on);
    expect((await runPageStep(on, filtered.jobId, 'Patient')).outcome).toBe('written');
    expect(linesRead).toBe(1);
    expect(
      (await fileLines(filtered.jobId)).map((line) => Object.keys(JSON.parse(line) as object).sort()),
    ).toEqual(Array.from({ length: PAGE_SIZE }, () => ['id', 'meta', 'resourceType']));
  });

  it("given a lane that goes on with another unit, when its unit's last page is read, then the next unit's first page is fetched meanwhile and its first page step finds it read", async () => {
    const ahead = new ReadAheadSource(deps.source);
    const on: ExportDeps = { ...deps, source: ahead };
    const job = await runningJob(
      { requestUrl: 'http://localhost/$export?_type=Patient,Encounter', types: ['Patient', 'Encounter'] },
      on,
    );
    const encounter = (await jobs.getProgress(job.jobId, 'Encounter')) as ProgressDocument;
    const next: PlannedUnit = { unitId: encounter.unitId, resourceType: 'Encounter' };
    let result = await runPageStep(on, job.jobId, 'Patient', next);
    while (result.outcome === 'written' && !result.done)
      result = await runPageStep(on, job.jobId, 'Patient', next);
    const before = { hits: ahead.hits, misses: ahead.misses };
    expect((await runPageStep(on, job.jobId, 'Encounter')).outcome).toBe('written');
    expect(ahead).toMatchObject({ hits: before.hits + 1, misses: before.misses });
  });

  describe('with blocks staged ahead', () => {
    /**
     * A read-ahead over pages that carry their NDJSON block, and a destination whose commits wait
     * until every search begun is in, so that each next page is at hand when a page step looks.
     */
    function stagingAhead(options: { failStageAhead?: boolean; fileRollBytes?: number } = {}) {
      const begun: Array<Promise<unknown>> = [];
      const withBlock: SearchSource = Object.assign(Object.create(deps.source) as SearchSource, {
        search: (...args: Parameters<SearchSource['search']>) => {
          const searched = deps.source.search(...args).then((page) => ({
            ...page,
            ndjson: {
              bytes: Buffer.from(page.resources.map((line) => `${lineText(line)}\n`).join('')),
              lines: page.resources.length,
            },
          }));
          begun.push(searched);
          return searched;
        },
      });
      const stagedAheadIds: string[] = [];
      const waiting = Object.assign(Object.create(destination) as BlobExportDestination, {
        stageBlock: async (...args: Parameters<BlobExportDestination['stageBlock']>) => {
          if (parseBlockId(args[1])?.stagedAhead) {
            stagedAheadIds.push(args[1]);
            if (options.failStageAhead) throw new Error('storage went away');
          }
          await destination.stageBlock(...args);
        },
        commitBlocks: async (...args: Parameters<BlobExportDestination['commitBlocks']>) => {
          await Promise.all(begun);
          await new Promise((resolve) => setImmediate(resolve));
          return destination.commitBlocks(...args);
        },
      });
      const stageAhead = new StageAhead();
      const on: ExportDeps = {
        ...deps,
        source: new ReadAheadSource(withBlock),
        stageAhead,
        destinationFor: () => waiting,
        config: { ...deps.config, fileRollBytes: options.fileRollBytes ?? deps.config.fileRollBytes },
      };
      return { on, stageAhead, stagedAheadIds };
    }

    async function exportUnit(on: ExportDeps): Promise<ExportJobRecord> {
      const job = await runningJob({}, on);
      let result = await runPageStep(on, job.jobId, 'Patient');
      while (result.outcome === 'written' && !result.done)
        result = await runPageStep(on, job.jobId, 'Patient');
      expect(result.outcome).toBe('written');
      return job;
    }

    async function committedIds(jobId: string, part = 1): Promise<string[]> {
      const blob = destination.containerClient.getBlockBlobClient(blobNameFor(jobId, 'Patient', part));
      return ((await blob.getBlockList('committed')).committedBlocks ?? []).map((b) => b.name as string);
    }

    const pages = Math.ceil(patients.length / PAGE_SIZE);

    it('given each next page at hand, when a unit is exported, then every page after the first commits the block staged ahead for it, and the file holds each resource once', async () => {
      const { on, stageAhead } = stagingAhead();
      const reported: string[] = [];
      on.telemetry = {
        trackEvent: (name, properties) => {
          if (name === 'ExportPageWritten') reported.push(properties.stagedAhead);
        },
        trackMetric: () => undefined,
        flush: async () => undefined,
      };
      const job = await exportUnit(on);
      // Each page's event says whether its block was staged ahead.
      expect(reported).toEqual(Array.from({ length: pages }, (_, i) => String(i > 0)));
      const ids = await committedIds(job.jobId);
      expect(ids.map((id) => parseBlockId(id)?.stagedAhead)).toEqual(
        Array.from({ length: pages }, (_, i) => i > 0),
      );
      expect(stageAhead.used).toBe(pages - 1);
      const lines = await fileLines(job.jobId);
      expect(lines.map((l) => (JSON.parse(l) as { id: string }).id).sort()).toEqual(
        patients.map((p) => p.id).sort(),
      );
      expect((await jobs.getProgress(job.jobId, 'Patient'))?.resourceCount).toBe(patients.length);
    });

    it('given a process that died after committing a block staged ahead and before its checkpoint, when another process runs the page again, then it recognises the commit as its own and the file holds each resource once', async () => {
      const { on } = stagingAhead();
      const job = await runningJob({}, on);
      expect((await runPageStep(on, job.jobId, 'Patient')).outcome).toBe('written');
      const dying: ExportDeps = {
        ...on,
        probe: (phase) => {
          if (phase === 'written') throw new Error('process died');
        },
      };
      expect((await runPageStep(dying, job.jobId, 'Patient')).outcome).toBe('failed');
      expect((await committedIds(job.jobId)).map((id) => parseBlockId(id)?.stagedAhead)).toEqual([
        false,
        true,
      ]);

      // A new process: nothing staged ahead, nothing read ahead, nothing cached.
      const { on: restarted } = stagingAhead();
      let result = await runPageStep(restarted, job.jobId, 'Patient');
      expect(result).toMatchObject({ outcome: 'written', pages: 2, pageResources: PAGE_SIZE });
      for (let steps = 0; result.outcome === 'written' && !result.done && steps < 2 * pages; steps++)
        result = await runPageStep(restarted, job.jobId, 'Patient');
      expect(result).toMatchObject({ outcome: 'written', done: true });
      const ids = (await fileLines(job.jobId)).map((l) => (JSON.parse(l) as { id: string }).id).sort();
      expect(ids).toEqual(patients.map((p) => p.id).sort());
      expect((await jobs.getProgress(job.jobId, 'Patient'))?.resourceCount).toBe(patients.length);
    });

    it('given uploads ahead that fail, when a unit is exported, then each page stages its own block and the file holds each resource once', async () => {
      const { on, stageAhead, stagedAheadIds } = stagingAhead({ failStageAhead: true });
      const job = await exportUnit(on);
      expect(stagedAheadIds).toHaveLength(pages - 1);
      expect((await committedIds(job.jobId)).map((id) => parseBlockId(id)?.stagedAhead)).toEqual(
        Array.from({ length: pages }, () => false),
      );
      expect(stageAhead.used).toBe(0);
      const ids = (await fileLines(job.jobId)).map((l) => (JSON.parse(l) as { id: string }).id).sort();
      expect(ids).toEqual(patients.map((p) => p.id).sort());
    });

    it('given files that roll over on every page, when a unit is exported, then each block staged ahead goes to the part its page is written to', async () => {
      const { on, stageAhead } = stagingAhead({ fileRollBytes: 1024 });
      const job = await exportUnit(on);
      expect(stageAhead.used).toBe(pages - 1);
      const progress = (await jobs.getProgress(job.jobId, 'Patient')) as ProgressDocument;
      expect(progress.files.map((f) => f.part)).toEqual(Array.from({ length: pages }, (_, i) => i + 1));
      for (const file of progress.files) {
        expect((await committedIds(job.jobId, file.part)).map((id) => parseBlockId(id)?.part)).toEqual([
          file.part,
        ]);
      }
      expect(progress.resourceCount).toBe(patients.length);
    });
  });

  it('given a source that throws a plain TypeError, when a page runs, then it fails with 500 naming the search and the source, without the message', async () => {
    const job = await runningJob();
    const broken: SearchSource = {
      ...deps.source,
      search: () => Promise.reject(new TypeError("Cannot read properties of undefined (reading 'secret')")),
    } as SearchSource;
    const result = await runPageStep({ ...deps, source: broken }, job.jobId, 'Patient');
    const reason = 'The search for a page failed unexpectedly (the data source, TypeError)';
    expect(result).toEqual({ outcome: 'failed', failure: { reason, statusCode: 500 } });
  });

  it('given a Group that no longer exists when the job starts, then the start fails 404 naming the group', async () => {
    const jobId = randomUUID();
    const request = exportRequest({
      level: 'group',
      groupId: 'gone-group',
      requestUrl: 'http://localhost/Group/gone-group/$export',
    });
    await jobs.createJob(
      newJobRecord({
        jobId,
        now: new Date(),
        request,
        requestHash: jobId,
        destination: destination.ref,
        clientId: 'test',
        orchestration: defaultOrchestrationSettings(),
      }),
    );
    const started = await startJob(deps, jobId);
    expect(started).toEqual({
      outcome: 'failed',
      failure: { reason: expect.stringContaining('Group gone-group'), statusCode: 404 },
    });
  });

  it.each([
    [
      'listing its types',
      { listResourceTypes: () => Promise.reject(new SourceError('throttled (429)', 503, true, 9)) },
    ],
    [
      'describing a type',
      { describe: () => Promise.reject(new SourceError('throttled (429)', 503, true, 9)) },
    ],
  ])(
    'given a source that throttles while %s, when the job starts, then the start reports the wait it asked for and plans nothing',
    async (_what, throttling) => {
      const jobId = randomUUID();
      await jobs.createJob(
        newJobRecord({
          jobId,
          now: new Date(),
          request: exportRequest({ requestUrl: 'http://localhost/$export', types: [] }),
          requestHash: jobId,
          destination: destination.ref,
          clientId: 'test',
          orchestration: defaultOrchestrationSettings(),
        }),
      );
      // The real source but for the one throttled call (its methods keep their instance).
      const source = Object.assign(Object.create(deps.source) as SearchSource, throttling);
      const config = { ...deps.config, maxRangesPerType: 4 };
      const started = await startJob({ ...deps, source, config }, jobId);
      expect(started).toEqual({ outcome: 'throttled', retryAfterSeconds: 9 });
      expect((await jobs.getJob(jobId))?.plannedUnits).toBeUndefined();
    },
  );
});
