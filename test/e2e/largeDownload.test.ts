/**
 * A 100 MiB file downloads with the app's memory flat: its bytes stream from Blob Storage to the
 * client instead of passing through the app whole, and a broken download resumes with a Range.
 *
 * The export itself is small; its Patient file is then replaced by a 100 MiB one (and its manifest
 * entry updated), since a real export rolls files over at 64 MiB.
 */
import { createHash, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { BlobServiceClient } from '@azure/storage-blob';
import { BulkDataClient, type Manifest } from '../../dev/client/bulkDataClient';
import { memoryOf } from '../../bench/processMeter';
import { processTree } from '../../bench/appProcess';
import { getCosmosClient } from '../../src/jobs/cosmosClient';
import { createCosmosJobStore } from '../../src/jobs/cosmosJobStore';
import { AppProcess } from '../support/appProcess';
import { seedPatients } from '../support/exportFixtures';
import { testConnectionInfo } from '../support/testEnv';

const MiB = 1024 * 1024;
const FILE_BYTES = 100 * MiB;
const LINE_BYTES = 1024;
/** Growth of the app's resident memory allowed while it serves the file: a fraction of its size. */
const MAX_GROWTH_MIB = 25;

/** `count` Patient lines of exactly LINE_BYTES each, the same every time. */
function* patientLines(count: number): Generator<Buffer> {
  for (let i = 0; i < count; i++) {
    const head = `{"resourceType":"Patient","id":"p${String(i).padStart(7, '0')}","text":"`;
    yield Buffer.from(`${head}${'x'.repeat(LINE_BYTES - head.length - 3)}"}\n`);
  }
}

/** Peak resident memory of the app's processes (the engine host's Node worker too) while `work` runs. */
async function watchMemory<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; growth: number[] }> {
  const pids = processTree(pid);
  const before = pids.map((p) => memoryOf(p)?.rss ?? 0);
  const peak = [...before];
  const timer = setInterval(() => {
    pids.forEach((p, i) => (peak[i] = Math.max(peak[i], memoryOf(p)?.rss ?? 0)));
  }, 20);
  try {
    return { result: await work(), growth: peak.map((rss, i) => rss - before[i]) };
  } finally {
    clearInterval(timer);
  }
}

/**
 * Reads `response`'s body into `hash`; stops after `limit` bytes when given. Returns the bytes read.
 * A `slow` reader pauses after each chunk, as a client on a slower network is, so that bytes the app
 * cannot hand on would pile up in it.
 */
async function consume(response: Response, hash: Hash, limit = Infinity, slow = false): Promise<number> {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  let read = 0;
  while (read < limit) {
    const chunk = await reader.read();
    if (chunk.done) break;
    const bytes = chunk.value.subarray(0, Math.min(chunk.value.length, limit - read));
    hash.update(bytes);
    read += bytes.length;
    if (slow) await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await reader.cancel().catch(() => undefined);
  return read;
}

describe('a 100 MiB download', () => {
  const app = new AppProcess();
  let url: string;
  let expectedSha: string;

  beforeAll(async () => {
    await seedPatients(app, 2);
    const client = new BulkDataClient(await app.start());
    const accepted = await client.kickoff('$export', { query: '_type=Patient' });
    const manifest: Manifest = await client.waitForManifest(accepted.pollUrl as string);
    url = manifest.output[0].url;
    const jobId = accepted.pollUrl?.split('/').pop() as string;

    const info = testConnectionInfo();
    const jobs = await createCosmosJobStore({
      client: getCosmosClient({ endpoint: info.cosmosEndpoint, key: info.cosmosKey }),
      databaseId: app.database,
      containerId: 'jobs',
    });
    const job = (await jobs.getJob(jobId))!;
    const entry = job.output!.find((o) => o.type === 'Patient')!;
    const lines = FILE_BYTES / LINE_BYTES;
    const hash = createHash('sha256');
    const source = Readable.from(
      (function* () {
        for (const line of patientLines(lines)) {
          hash.update(line);
          yield line;
        }
      })(),
    );
    await BlobServiceClient.fromConnectionString(info.storageConnectionString)
      .getContainerClient(app.container)
      .getBlockBlobClient(entry.blobName)
      .uploadStream(source, 4 * MiB, 2, { blobHTTPHeaders: { blobContentType: 'application/fhir+ndjson' } });
    expectedSha = hash.digest('hex');
    await jobs.replaceJob({
      ...job,
      output: job.output!.map((o) => (o === entry ? { ...o, bytes: FILE_BYTES, count: lines } : o)),
    });
    // A first download of 16 MiB brings the app's allocator to its working size for this traffic, so
    // that what is measured is what grows with the file: a buffered file would take ~84 MiB more.
    const warmUp = await fetch(url, { headers: { Range: `bytes=0-${16 * MiB - 1}` } });
    expect(warmUp.status).toBe(206);
    expect(await consume(warmUp, createHash('sha256'))).toBe(16 * MiB);
  });
  afterAll(() => app.dispose());

  it('streams the whole file with Content-Length to a slow client while the app keeps its memory flat', async () => {
    const { result, growth } = await watchMemory(app.pid!, async () => {
      const response = await fetch(url, { headers: { 'Accept-Encoding': 'identity' } });
      const hash = createHash('sha256');
      const read = await consume(response, hash, Infinity, true);
      return { response, read, sha: hash.digest('hex') };
    });
    console.log(
      `RSS growth (MiB) per app process while 100 MiB downloaded: ${growth.map((g) => g.toFixed(1))}`,
    );
    expect(result.response.status).toBe(200);
    expect(result.response.headers.get('content-length')).toBe(String(FILE_BYTES));
    expect(result.response.headers.get('accept-ranges')).toBe('bytes');
    expect(result.read).toBe(FILE_BYTES);
    expect(result.sha).toBe(expectedSha);
    for (const mib of growth) expect(mib).toBeLessThan(MAX_GROWTH_MIB);
  });

  it('resumes a broken download with a Range from where it stopped', async () => {
    const hash = createHash('sha256');
    const broken = 37 * MiB + 123;
    const first = await fetch(url, { headers: { 'Accept-Encoding': 'identity' } });
    expect(await consume(first, hash, broken)).toBe(broken);

    const { result, growth } = await watchMemory(app.pid!, async () => {
      const rest = await fetch(url, { headers: { Range: `bytes=${broken}-` } });
      return { rest, read: await consume(rest, hash) };
    });
    console.log(
      `RSS growth (MiB) per app process while the rest downloaded: ${growth.map((g) => g.toFixed(1))}`,
    );
    expect(result.rest.status).toBe(206);
    expect(result.rest.headers.get('content-range')).toBe(`bytes ${broken}-${FILE_BYTES - 1}/${FILE_BYTES}`);
    expect(result.read).toBe(FILE_BYTES - broken);
    expect(hash.digest('hex')).toBe(expectedSha);
    for (const mib of growth) expect(mib).toBeLessThan(MAX_GROWTH_MIB);
  });
});
