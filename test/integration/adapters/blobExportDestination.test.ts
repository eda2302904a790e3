import * as net from 'node:net';
import { BlobServiceClient } from '@azure/storage-blob';
import { DestinationConnectionError } from '../../../src/export/errors';
import { BlobExportDestination, NDJSON_CONTENT_TYPE } from '../../../src/destination/blobExportDestination';
import { blockId } from '../../../src/destination/blockIds';
import { testConnectionInfo, uniqueName } from '../../support/testEnv';

/** One page as the page step writes it: stage the block, then commit the list with it appended. */
async function append(
  dest: BlobExportDestination,
  name: string,
  committed: string[],
  id: string,
  data: Buffer,
) {
  await dest.stageBlock(name, id, data);
  await dest.commitBlocks(name, [...committed, id]);
}

const WRONG_KEY = Buffer.alloc(64, 7).toString('base64');

async function readAll(stream: NodeJS.ReadableStream | undefined): Promise<string> {
  if (!stream) throw new Error('no stream');
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
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

  test('given a page appended twice with the same block id, then the blob holds it once', async () => {
    const b0 = blockId('job', 'Patient', 1, 0);
    const b1 = blockId('job', 'Patient', 1, 1);
    await append(dest, 'job/Patient-1.ndjson', [], b0, Buffer.from('{"id":"a"}\n'));
    await append(dest, 'job/Patient-1.ndjson', [b0], b1, Buffer.from('{"id":"b"}\n'));
    // The process died after committing b1 but before saving progress: the retry repeats page 1.
    await append(dest, 'job/Patient-1.ndjson', [b0], b1, Buffer.from('{"id":"b"}\n'));
    expect(await readAll(await dest.openRead('job/Patient-1.ndjson'))).toBe('{"id":"a"}\n{"id":"b"}\n');
    // A caller passing the block in the committed list too does not duplicate it.
    await append(dest, 'job/Patient-1.ndjson', [b0, b1], b1, Buffer.from('{"id":"b"}\n'));
    expect(await readAll(await dest.openRead('job/Patient-1.ndjson'))).toBe('{"id":"a"}\n{"id":"b"}\n');
    const props = await dest.containerClient.getBlobClient('job/Patient-1.ndjson').getProperties();
    expect(props.contentType).toBe(NDJSON_CONTENT_TYPE);
  });

  test('given a staged but uncommitted block from a crashed attempt, when rolled forward, then only committed pages remain', async () => {
    const name = 'job/Observation-1.ndjson';
    const ids = [0, 1, 2].map((page) => blockId('job', 'Observation', 1, page));
    await append(dest, name, [], ids[0], Buffer.from('0\n'));
    // Crashed attempt: page 1 staged with different content, never committed.
    await dest.containerClient.getBlockBlobClient(name).stageBlock(ids[1], Buffer.from('stale\n'), 6);
    await append(dest, name, [ids[0]], ids[1], Buffer.from('1\n'));
    await append(dest, name, [ids[0], ids[1]], ids[2], Buffer.from('2\n'));
    expect(await readAll(await dest.openRead(name))).toBe('0\n1\n2\n');
    const list = await dest.containerClient.getBlockBlobClient(name).getBlockList('all');
    expect(list.committedBlocks?.map((b) => b.name)).toEqual(ids);
    expect(list.uncommittedBlocks ?? []).toHaveLength(0);
  });

  test('openRead of a missing blob is undefined', async () => {
    expect(await dest.openRead('nope/none.ndjson')).toBeUndefined();
  });

  test('deletePrefix removes exactly the blobs under the prefix', async () => {
    for (const name of ['del/a.ndjson', 'del/b.ndjson', 'del/sub/c.ndjson', 'keep/a.ndjson']) {
      await append(dest, name, [], blockId('del', 'x', 1, 0), Buffer.from('x\n'));
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
});
