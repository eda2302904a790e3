import * as net from 'node:net';
import { BlobServiceClient } from '@azure/storage-blob';
import { DestinationConnectionError } from '../../../src/export/errors';
import { BlobExportDestination, NDJSON_CONTENT_TYPE } from '../../../src/destination/blobExportDestination';
import { blockId } from '../../../src/destination/blockIds';
import {
  StaleBlobError,
  type BlobContent,
  type CommitBase,
} from '../../../src/destination/exportDestination';
import { classifyError } from '../../../src/export/failureMapping';
import { startTcpFaultProxy } from '../../support/tcpFaultProxy';
import { testConnectionInfo, uniqueName } from '../../support/testEnv';

/**
 * One page as the page step writes it: stage the block, then commit the list with it appended over
 * the version `over`; returns the blob's new etag.
 */
async function append(
  dest: BlobExportDestination,
  name: string,
  committed: string[],
  id: string,
  data: Buffer,
  over: CommitBase,
): Promise<string> {
  await dest.stageBlock(name, id, data);
  return dest.commitBlocks(name, [...committed, id], over);
}

const WRONG_KEY = Buffer.alloc(64, 7).toString('base64');

async function readAll(content: BlobContent | undefined): Promise<string> {
  if (!content) throw new Error('no stream');
  const chunks: Buffer[] = [];
  for await (const chunk of content.stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('BlobExportDestination', () => {
  const containerName = uniqueName('blobdest');
  let dest: BlobExportDestination;

  beforeAll(async () => {
    dest = BlobExportDestination.fromSettings({
      connectionString: testConnectionInfo().storageConnectionString,
      container: containerName,
    });
    await dest.ensureReady();
  });

  afterAll(async () => {
    await dest.containerClient.deleteIfExists();
  });

  test('ensureReady is idempotent and the ref names the account and container', async () => {
    await dest.ensureReady();
    expect(dest.ref).toEqual({
      accountUrl: testConnectionInfo().blobEndpoint.toLowerCase(),
      container: containerName,
    });
  });

  describe('readSmallBlob', () => {
    const upload = async (name: string, data: string) =>
      (await dest.containerClient.getBlockBlobClient(name).upload(data, Buffer.byteLength(data)))
        .etag as string;

    test('given a small blob, when read with and without its etag, then its bytes and etag come back', async () => {
      const etag = await upload('small.json', '\uFEFF{"a":1}');
      const read = await dest.readSmallBlob('small.json', { maxBytes: 1024 });
      expect(read).toEqual({ outcome: 'read', data: Buffer.from('\uFEFF{"a":1}'), etag });
      expect(await dest.readSmallBlob('small.json', { ifMatch: etag, maxBytes: 1024 })).toEqual(read);
      await upload('empty.json', '');
      expect(await dest.readSmallBlob('empty.json', { maxBytes: 1024 })).toMatchObject({
        outcome: 'read',
        data: Buffer.alloc(0),
      });
    });

    test('given another etag, a missing blob or one over the limit, then each says so without reading it', async () => {
      await upload('versioned.json', '{}');
      expect(await dest.readSmallBlob('versioned.json', { ifMatch: '"0x8D0"', maxBytes: 1024 })).toEqual({
        outcome: 'etag-mismatch',
      });
      expect(await dest.readSmallBlob('missing.json', { maxBytes: 1024 })).toEqual({ outcome: 'not-found' });
      await upload('large.json', 'x'.repeat(2048));
      expect(await dest.readSmallBlob('large.json', { maxBytes: 2047 })).toEqual({
        outcome: 'too-large',
        size: 2048,
      });
    });
  });

  test('given a page appended twice with the same block id, then the blob holds it once', async () => {
    const b0 = blockId('job', 'Patient', 1, 0);
    const b1 = blockId('job', 'Patient', 1, 1);
    const e0 = await append(dest, 'job/Patient-1.ndjson', [], b0, Buffer.from('{"id":"a"}\n'), 'new');
    const e1 = await append(dest, 'job/Patient-1.ndjson', [b0], b1, Buffer.from('{"id":"b"}\n'), {
      etag: e0,
    });
    // The process died after committing b1 but before saving progress: the retry repeats page 1.
    await append(dest, 'job/Patient-1.ndjson', [b0], b1, Buffer.from('{"id":"b"}\n'), { etag: e0 });
    expect(await readAll(await dest.openRead('job/Patient-1.ndjson'))).toBe('{"id":"a"}\n{"id":"b"}\n');
    // A caller passing the block in the committed list too does not duplicate it.
    await append(dest, 'job/Patient-1.ndjson', [b0, b1], b1, Buffer.from('{"id":"b"}\n'), { etag: e1 });
    expect(await readAll(await dest.openRead('job/Patient-1.ndjson'))).toBe('{"id":"a"}\n{"id":"b"}\n');
    const props = await dest.containerClient.getBlobClient('job/Patient-1.ndjson').getProperties();
    expect(props.contentType).toBe(NDJSON_CONTENT_TYPE);
  });

  test('given a staged but uncommitted block from a crashed attempt, when rolled forward, then only committed pages remain', async () => {
    const name = 'job/Observation-1.ndjson';
    const ids = [0, 1, 2].map((page) => blockId('job', 'Observation', 1, page));
    const e0 = await append(dest, name, [], ids[0], Buffer.from('0\n'), 'new');
    // Crashed attempt: page 1 staged with different content, never committed.
    await dest.containerClient.getBlockBlobClient(name).stageBlock(ids[1], Buffer.from('stale\n'), 6);
    const e1 = await append(dest, name, [ids[0]], ids[1], Buffer.from('1\n'), { etag: e0 });
    await append(dest, name, [ids[0], ids[1]], ids[2], Buffer.from('2\n'), { etag: e1 });
    expect(await readAll(await dest.openRead(name))).toBe('0\n1\n2\n');
    const list = await dest.containerClient.getBlockBlobClient(name).getBlockList('all');
    expect(list.committedBlocks?.map((b) => b.name)).toEqual(ids);
    expect(list.uncommittedBlocks ?? []).toHaveLength(0);
  });

  test('given commits conditional on the last etag, when a late duplicate commits an older list, then it is refused and the later blocks stay', async () => {
    const name = 'job/Encounter-1.ndjson';
    const [b0, b1, b2] = [0, 1, 2].map((page) => blockId('job', 'Encounter', 1, page));
    // Each page stages its block, then commits (a commit drops blocks staged but not listed).
    const stage = (id: string, text: string) => dest.stageBlock(name, id, Buffer.from(text));
    await stage(b0, '0\n');
    const e0 = await dest.commitBlocks(name, [b0], 'new');
    await stage(b1, '1\n');
    const e1 = await dest.commitBlocks(name, [b0, b1], { etag: e0 });
    // A retry after a crash between commit and checkpoint: the blob already is this commit.
    await stage(b1, '1\n');
    expect(await dest.commitBlocks(name, [b0, b1], { etag: e0 })).toBe(e1);
    await stage(b2, '2\n');
    const e2 = await dest.commitBlocks(name, [b0, b1, b2], { etag: e1 });

    // Late duplicates of pages 0 and 1, with the progress they read back then.
    await expect(dest.commitBlocks(name, [b0], 'new')).rejects.toBeInstanceOf(StaleBlobError);
    await expect(dest.commitBlocks(name, [b0, b1], { etag: e0 })).rejects.toBeInstanceOf(StaleBlobError);
    expect(await readAll(await dest.openRead(name))).toBe('0\n1\n2\n');
    const props = await dest.containerClient.getBlobClient(name).getProperties();
    expect(props.etag).toBe(e2);

    // A file deleted by a cancel is not re-created by a commit over its old version.
    await dest.deletePrefix(name);
    await expect(dest.commitBlocks(name, [b0, b1, b2], { etag: e2 })).rejects.toBeInstanceOf(StaleBlobError);
    expect(await dest.openRead(name)).toBeUndefined();
  });

  test('given a page committed with its block staged ahead, when a retry commits it under the usual id, then only the other list given as the same commit makes it a success', async () => {
    const name = 'job/Procedure-1.ndjson';
    const b0 = blockId('job', 'Procedure', 1, 0);
    const [b1, b1Ahead] = [false, true].map((ahead) => blockId('job', 'Procedure', 1, 1, ahead));
    await dest.stageBlock(name, b0, Buffer.from('0\n'));
    const e0 = await dest.commitBlocks(name, [b0], 'new');
    await dest.stageBlock(name, b1Ahead, Buffer.from('1\n'));
    const e1 = await dest.commitBlocks(name, [b0, b1Ahead], { etag: e0 });

    await dest.stageBlock(name, b1, Buffer.from('1\n'));
    await expect(dest.commitBlocks(name, [b0, b1], { etag: e0 })).rejects.toBeInstanceOf(StaleBlobError);
    await expect(dest.commitBlocks(name, [b0, b1], { etag: e0 }, [b0])).rejects.toBeInstanceOf(
      StaleBlobError,
    );
    expect(await dest.commitBlocks(name, [b0, b1], { etag: e0 }, [b0, b1Ahead])).toBe(e1);
    expect(await readAll(await dest.openRead(name))).toBe('0\n1\n');
  });

  test('given a first commit that happened before a crash, when repeated as new, then its etag is returned', async () => {
    const name = 'job/Condition-1.ndjson';
    const b0 = blockId('job', 'Condition', 1, 0);
    await dest.stageBlock(name, b0, Buffer.from('0\n'));
    const first = await dest.commitBlocks(name, [b0], 'new');
    await dest.stageBlock(name, b0, Buffer.from('0\n'));
    expect(await dest.commitBlocks(name, [b0], 'new')).toBe(first);
    expect(await readAll(await dest.openRead(name))).toBe('0\n');
  });

  test('openRead reads a range of a blob and tells the whole size', async () => {
    const name = 'range/a.ndjson';
    await append(dest, name, [], blockId('range', 'x', 1, 0), Buffer.from('0123456789\n'), 'new');
    const whole = await dest.openRead(name);
    expect(whole?.size).toBe(11);
    expect(await readAll(whole)).toBe('0123456789\n');
    const part = await dest.openRead(name, { offset: 3, count: 4 });
    expect(part?.size).toBe(11);
    expect(await readAll(part)).toBe('3456');
    expect(await readAll(await dest.openRead(name, { offset: 8, count: 3 }))).toBe('89\n');
  });

  test('openRead of a missing blob is undefined', async () => {
    expect(await dest.openRead('nope/none.ndjson')).toBeUndefined();
  });

  test('deletePrefix removes exactly the blobs under the prefix', async () => {
    for (const name of ['del/a.ndjson', 'del/b.ndjson', 'del/sub/c.ndjson', 'keep/a.ndjson']) {
      await append(dest, name, [], blockId('del', 'x', 1, 0), Buffer.from('x\n'), 'new');
    }
    expect(await dest.deletePrefix('del/')).toBe(3);
    expect(await dest.deletePrefix('del/')).toBe(0);
    expect(await dest.openRead('keep/a.ndjson')).toBeDefined();
  });

  test('a SAS URL can be fetched with plain fetch and serves NDJSON', async () => {
    await append(
      dest,
      'sas/Patient-1.ndjson',
      [],
      blockId('sas', 'Patient', 1, 0),
      Buffer.from('{"id":"p"}\n'),
      'new',
    );
    const url = await dest.sasUrl('sas/Patient-1.ndjson', new Date(Date.now() + 10 * 60 * 1000));
    expect(url).toContain('sig=');
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(NDJSON_CONTENT_TYPE);
    expect(await response.text()).toBe('{"id":"p"}\n');
    const unsigned = await fetch(url.split('?')[0]);
    expect(unsigned.status).not.toBe(200);
  });

  test('given a wrong account key, ensureReady fails with DestinationConnectionError 403', async () => {
    const bad = testConnectionInfo().storageConnectionString.replace(
      /AccountKey=[^;]+/,
      `AccountKey=${WRONG_KEY}`,
    );
    const other = BlobExportDestination.fromSettings({
      connectionString: bad,
      container: uniqueName('bad'),
      maxTries: 1,
    });
    const error = await other.ensureReady().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DestinationConnectionError);
    expect((error as DestinationConnectionError).statusCode).toBe(403);
  });

  test('given a closed port, ensureReady fails with DestinationConnectionError 400', async () => {
    const port = await closedPort();
    const cs = testConnectionInfo().storageConnectionString.replace(
      /BlobEndpoint=http:\/\/127\.0\.0\.1:\d+/,
      `BlobEndpoint=http://127.0.0.1:${port}`,
    );
    const other = BlobExportDestination.fromSettings({
      connectionString: cs,
      container: 'x-closed',
      maxTries: 2,
      retryDelayInMs: 50,
    });
    const error = await other.ensureReady().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DestinationConnectionError);
    expect((error as DestinationConnectionError).statusCode).toBe(400);
  });

  test('given an unknown host name, ensureReady fails with DestinationConnectionError 400', async () => {
    const service = new BlobServiceClient('http://no-such-host.invalid/devstoreaccount1', undefined, {
      retryOptions: { maxTries: 1 },
    });
    const other = new BlobExportDestination(service, 'x-unknown');
    const error = await other.ensureReady().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DestinationConnectionError);
    expect((error as DestinationConnectionError).statusCode).toBe(400);
  });

  test('given an account whose connections fail after the job started, then a page write fails with a transient error (retried), while a start still fails with DestinationConnectionError 400', async () => {
    const info = testConnectionInfo();
    const blob = new URL(info.blobEndpoint);
    const proxy = await startTcpFaultProxy({ host: blob.hostname, port: Number(blob.port) });
    const cs = info.storageConnectionString.replace(
      /BlobEndpoint=http:\/\/127\.0\.0\.1:\d+/,
      `BlobEndpoint=http://127.0.0.1:${proxy.port}`,
    );
    const cut = BlobExportDestination.fromSettings({
      connectionString: cs,
      container: containerName,
      maxTries: 1,
    });
    await cut.ensureReady();
    proxy.refuse();
    try {
      const id = blockId('job', 'Patient', 1, 0);
      const writes = [
        () => cut.stageBlock('cut/Patient-1.ndjson', id, Buffer.from('{"id":"p"}\n')),
        () => cut.commitBlocks('cut/Patient-1.ndjson', [id], 'new'),
      ];
      for (const write of writes) {
        const error = await write().catch((e: unknown) => e);
        expect(error).not.toBeInstanceOf(DestinationConnectionError);
        expect(classifyError(error).kind).toBe('transient');
      }
      const start = await cut.ensureReady().catch((e: unknown) => e);
      expect(start).toBeInstanceOf(DestinationConnectionError);
      expect((start as DestinationConnectionError).statusCode).toBe(400);
    } finally {
      await proxy.close();
    }
  });
});
