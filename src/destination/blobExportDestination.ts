/**
 * `ExportDestination` on Azure Blob Storage: NDJSON files as block blobs, one staged block per page.
 *
 * Authentication: a connection string (account key; Azurite locally) or an account URL with a token
 * credential (managed identity in Azure). SAS URLs are signed with a user delegation key (requires
 * `Storage Blob Delegator` or a data role); with the account key only for an emulator on loopback.
 * The service client is shared per account and credential; one destination object per container.
 */
import {
  BlobSASPermissions,
  BlobServiceClient,
  BlockBlobClient,
  ContainerClient,
  SASProtocol,
  StoragePipelineOptions,
  StorageSharedKeyCredential,
  UserDelegationKey,
} from '@azure/storage-blob';
import { DefaultAzureCredential, TokenCredential } from '@azure/identity';
import { DestinationConnectionError } from '../export/errors';
import { networkCodeOf } from '../export/failureTable';
import type { DestinationRef } from '../export/model';
import {
  StaleBlobError,
  type BlobContent,
  type CommitBase,
  type ExportDestination,
  type SmallBlobRead,
} from './exportDestination';
import { normaliseAccountUrl } from './destinationIdentity';
import { mapWithConcurrency } from '../util/concurrency';
import { isLoopbackEndpoint } from '../util/loopback';

export const NDJSON_CONTENT_TYPE = 'application/fhir+ndjson';

export interface BlobDestinationSettings {
  /** Blob container that receives the files. */
  container: string;
  /** Storage connection string with an account key (local development, Azurite). */
  connectionString?: string;
  /** Blob service URL, e.g. `https://acct.blob.core.windows.net`, used with `credential`. */
  accountUrl?: string;
  /** Token credential for `accountUrl`; `DefaultAzureCredential` when omitted. */
  credential?: TokenCredential;
  /** Attempts per storage call including the first (SDK retry policy); default 4. */
  maxTries?: number;
  /** Base delay between retries in ms; default 1000. */
  retryDelayInMs?: number;
}

const serviceClients = new Map<string, BlobServiceClient>();

/** The shared service client for these settings. */
export function getBlobServiceClient(
  settings: Omit<BlobDestinationSettings, 'container'>,
): BlobServiceClient {
  const maxTries = settings.maxTries ?? 4;
  const retryDelayInMs = settings.retryDelayInMs ?? 1000;
  const pipeline: StoragePipelineOptions = {
    retryOptions: { maxTries, retryDelayInMs, maxRetryDelayInMs: Math.max(retryDelayInMs, 30000) },
  };
  let key: string;
  let create: () => BlobServiceClient;
  if (settings.connectionString) {
    key = `cs|${settings.connectionString}|${maxTries}|${retryDelayInMs}`;
    create = () => BlobServiceClient.fromConnectionString(settings.connectionString!, pipeline);
  } else if (settings.accountUrl) {
    key = `aad|${settings.accountUrl}|${maxTries}|${retryDelayInMs}`;
    create = () => {
      const credential = settings.credential ?? new DefaultAzureCredential();
      return new BlobServiceClient(settings.accountUrl!, credential, pipeline);
    };
    if (settings.credential) {
      // A caller-supplied credential object is not cacheable by value.
      return create();
    }
  } else {
    throw new Error('Blob destination needs a connection string or an account URL');
  }
  let client = serviceClients.get(key);
  if (!client) {
    client = create();
    serviceClients.set(key, client);
  }
  return client;
}

const NETWORK_ERROR_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'REQUEST_SEND_ERROR',
]);

interface StorageErrorShape {
  statusCode?: number;
  code?: string;
  message?: string;
  cause?: unknown;
}

function networkCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const code = (e as StorageErrorShape).code;
    if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) return code;
    e = (e as StorageErrorShape).cause;
  }
  return undefined;
}

/**
 * Maps an error from the storage SDK to `DestinationConnectionError` when it means that the
 * destination cannot be used (forbidden, unknown account, unreachable); returns undefined otherwise.
 */
export function toDestinationError(err: unknown, what: string): DestinationConnectionError | undefined {
  if (err instanceof DestinationConnectionError) return err;
  const e = (err ?? {}) as StorageErrorShape;
  const status = e.statusCode;
  if (status === 401 || status === 403) {
    return new DestinationConnectionError(
      `${what}: the storage account refused access (${status} ${e.code ?? ''})`.trim(),
      403,
    );
  }
  if (status === 404 && e.code !== 'BlobNotFound' && e.code !== 'ContainerNotFound') {
    return new DestinationConnectionError(
      `${what}: the storage account was not found (${e.code ?? '404'})`,
      400,
    );
  }
  const code = networkCode(err);
  if (code)
    return new DestinationConnectionError(
      `${what}: the storage account cannot be reached (${code})`,
      400,
      true,
    );
  return undefined;
}

/** The answers to a commit whose condition no longer holds (etag changed, blob exists, or gone). */
function isConditionRefusal(err: unknown): boolean {
  const { statusCode, code } = (err ?? {}) as StorageErrorShape;
  return statusCode === 412 || statusCode === 409 || (statusCode === 404 && code === 'BlobNotFound');
}

function rethrow(err: unknown, what: string): never {
  throw toDestinationError(err, what) ?? err;
}

/**
 * Rethrows an error of a page's write. A passing network fault (a reset or refused connection, a
 * timeout) stays as it is: the account was reached when the job started, so it is not a wrong
 * destination (which a `DestinationConnectionError` 400 would tell the client) but a fault the
 * page's retries wait out; the job fails (503) only if it outlasts them all.
 */
function rethrowWrite(err: unknown, what: string): never {
  if (networkCodeOf(err) !== undefined) throw err;
  rethrow(err, what);
}

/** The blob's committed block ids and etag; undefined when there is no such blob. */
async function committedBlocks(
  blob: BlockBlobClient,
): Promise<{ blockIds: string[]; etag: string } | undefined> {
  try {
    const list = await blob.getBlockList('committed');
    const blockIds = (list.committedBlocks ?? []).map((b) => b.name);
    // The service sends the etag whenever the blob has committed blocks; without one, none matches.
    return list.etag ? { blockIds, etag: list.etag } : undefined;
  } catch (err) {
    if ((err as StorageErrorShape).statusCode === 404) return undefined;
    rethrowWrite(err, `Reading the blocks of ${blob.name}`);
  }
}

export class BlobExportDestination implements ExportDestination {
  readonly containerClient: ContainerClient;
  private delegationKey?: { key: UserDelegationKey; expiresOn: Date };

  constructor(
    readonly serviceClient: BlobServiceClient,
    readonly containerName: string,
  ) {
    this.containerClient = serviceClient.getContainerClient(containerName);
  }

  /** Creates a destination from settings, reusing the shared service client. */
  static fromSettings(settings: BlobDestinationSettings): BlobExportDestination {
    return new BlobExportDestination(getBlobServiceClient(settings), settings.container);
  }

  /** What a job records at kick-off to pin its destination. */
  get ref(): DestinationRef {
    return { accountUrl: normaliseAccountUrl(this.serviceClient.url), container: this.containerName };
  }

  async ensureReady(): Promise<void> {
    try {
      await this.containerClient.createIfNotExists();
    } catch (err) {
      rethrow(err, `Export container '${this.containerName}'`);
    }
  }

  async stageBlock(blobName: string, blockId: string, data: Buffer): Promise<void> {
    try {
      await this.containerClient.getBlockBlobClient(blobName).stageBlock(blockId, data, data.length);
    } catch (err) {
      rethrowWrite(err, `Writing ${blobName}`);
    }
  }

  async commitBlocks(
    blobName: string,
    blockIds: string[],
    over: CommitBase,
    sameAs?: string[],
  ): Promise<string> {
    // A block listed twice would repeat its content in the blob.
    const unique = [...new Set(blockIds)];
    const blob = this.containerClient.getBlockBlobClient(blobName);
    const conditions = over === 'new' ? { ifNoneMatch: '*' } : { ifMatch: over.etag };
    try {
      const response = await blob.commitBlockList(unique, {
        blobHTTPHeaders: { blobContentType: NDJSON_CONTENT_TYPE },
        conditions,
      });
      if (!response.etag) throw new Error(`Writing ${blobName}: the service returned no etag`);
      return response.etag;
    } catch (err) {
      if (!isConditionRefusal(err)) rethrowWrite(err, `Writing ${blobName}`);
    }
    // Refused: the blob is another version. Fine only if it already is exactly this commit.
    const held = await committedBlocks(blob);
    const holds = (ids: string[]) =>
      held !== undefined &&
      held.blockIds.length === ids.length &&
      held.blockIds.every((id, i) => id === ids[i]);
    if (held && (holds(unique) || (sameAs !== undefined && holds([...new Set(sameAs)])))) return held.etag;
    throw new StaleBlobError(blobName);
  }

  async openRead(
    blobName: string,
    range?: { offset: number; count: number },
  ): Promise<BlobContent | undefined> {
    try {
      const response = await this.containerClient
        .getBlobClient(blobName)
        .download(range?.offset ?? 0, range?.count);
      const stream = response.readableStreamBody;
      if (!stream) throw new Error(`Reading ${blobName}: the service returned no body`);
      // A ranged answer gives the whole length after the slash of `Content-Range`.
      const total = /\/(\d+)$/.exec(response.contentRange ?? '')?.[1];
      return { stream, size: total !== undefined ? Number(total) : (response.contentLength ?? 0) };
    } catch (err) {
      if ((err as StorageErrorShape).statusCode === 404) return undefined;
      rethrow(err, `Reading ${blobName}`);
    }
  }

  async readSmallBlob(
    blobName: string,
    options: { ifMatch?: string; maxBytes: number },
  ): Promise<SmallBlobRead> {
    const blob = this.containerClient.getBlobClient(blobName);
    // Without a version asked for, a blob replaced between the size check and the download is read again.
    for (let attempt = 1; ; attempt++) {
      try {
        const properties = await blob.getProperties({ conditions: { ifMatch: options.ifMatch } });
        const size = properties.contentLength ?? 0;
        if (size > options.maxBytes) return { outcome: 'too-large', size };
        const etag = properties.etag ?? '';
        // The version sized above, never a larger later one.
        const data =
          size === 0
            ? Buffer.alloc(0)
            : await blob.downloadToBuffer(0, size, { conditions: { ifMatch: etag } });
        return { outcome: 'read', data, etag };
      } catch (err) {
        const { statusCode } = err as StorageErrorShape;
        if (statusCode === 404) return { outcome: 'not-found' };
        if (statusCode !== 412) throw err;
        if (options.ifMatch !== undefined || attempt >= 2) return { outcome: 'etag-mismatch' };
      }
    }
  }

  async deletePrefix(prefix: string): Promise<number> {
    let deleted = 0;
    try {
      const names: string[] = [];
      for await (const item of this.containerClient.listBlobsFlat({ prefix })) names.push(item.name);
      const results = await mapWithConcurrency(names, 8, (name) =>
        this.containerClient
          .deleteBlob(name, { deleteSnapshots: 'include' })
          .then(() => 1)
          .catch((err: StorageErrorShape) => {
            if (err.statusCode === 404) return 0;
            throw err;
          }),
      );
      deleted = results.reduce((a, b) => a + b, 0);
    } catch (err) {
      if (
        (err as StorageErrorShape).statusCode === 404 &&
        (err as StorageErrorShape).code === 'ContainerNotFound'
      ) {
        return deleted;
      }
      rethrow(err, `Deleting ${prefix}*`);
    }
    return deleted;
  }

  /**
   * A service SAS for reading this one blob (`sr=b`, `sp=r`) over HTTPS, signed with a user delegation
   * key. An account key signs only for an emulator on loopback (which also speaks plain HTTP): a key
   * signs for the whole account, and its links cannot be revoked short of rotating it.
   */
  async sasUrl(blobName: string, expiresOn: Date): Promise<string> {
    const blob = this.containerClient.getBlobClient(blobName);
    const loopback = isLoopbackEndpoint(this.serviceClient.url);
    // Clock skew allowance on the start time.
    const startsOn = new Date(Date.now() - 5 * 60 * 1000);
    const options = {
      permissions: BlobSASPermissions.parse('r'),
      startsOn,
      expiresOn,
      protocol: loopback ? SASProtocol.HttpsAndHttp : SASProtocol.Https,
      contentType: NDJSON_CONTENT_TYPE,
    };
    try {
      if (this.serviceClient.credential instanceof StorageSharedKeyCredential) {
        if (!loopback)
          throw new Error('SAS URLs are signed with a user delegation key, never an account key');
        return await blob.generateSasUrl(options);
      }
      const key = await this.userDelegationKey(startsOn, expiresOn);
      return await blob.generateUserDelegationSasUrl(options, key);
    } catch (err) {
      rethrow(err, `Signing a URL for ${blobName}`);
    }
  }

  /** A user delegation key valid until at least `expiresOn` (cached; the service allows 7 days). */
  private async userDelegationKey(startsOn: Date, expiresOn: Date): Promise<UserDelegationKey> {
    if (this.delegationKey && this.delegationKey.expiresOn.getTime() >= expiresOn.getTime()) {
      return this.delegationKey.key;
    }
    const maxEnd = startsOn.getTime() + 7 * 24 * 3600 * 1000 - 60 * 1000;
    const keyExpiresOn = new Date(
      Math.min(maxEnd, Math.max(expiresOn.getTime(), Date.now() + 24 * 3600 * 1000)),
    );
    if (keyExpiresOn.getTime() < expiresOn.getTime()) {
      throw new RangeError('A user delegation SAS cannot be valid for more than 7 days');
    }
    const key = await this.serviceClient.getUserDelegationKey(startsOn, keyExpiresOn);
    this.delegationKey = { key, expiresOn: keyExpiresOn };
    return key;
  }
}
