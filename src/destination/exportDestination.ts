/** The port for where NDJSON goes. Blob names are relative to the job's container. */

/** The version of a blob that a commit extends (see `ExportDestination.commitBlocks`). */
export type CommitBase = { etag: string } | 'new';

/** The blob changed since the version a commit was meant to extend. */
export class StaleBlobError extends Error {
  constructor(readonly blobName: string) {
    super(`${blobName} changed since this page's progress was read`);
    this.name = 'StaleBlobError';
  }
}

/** An open read of a blob: `stream` holds the bytes asked for, `size` is the whole blob's length. */
export interface BlobContent {
  stream: NodeJS.ReadableStream;
  size: number;
}

/** What reading a small blob whole found (see `ExportDestination.readSmallBlob`). */
export type SmallBlobRead =
  | { outcome: 'read'; data: Buffer; etag: string }
  | { outcome: 'not-found' }
  /** The blob is another version than the `ifMatch` asked for. */
  | { outcome: 'etag-mismatch' }
  | { outcome: 'too-large'; size: number };

export interface ExportDestination {
  /** Fails with `DestinationConnectionError` when the container cannot be reached or written. */
  ensureReady(): Promise<void>;
  /** Uploads `data` as an uncommitted block of `blobName`; staging the same id again replaces it. */
  stageBlock(blobName: string, blockId: string, data: Buffer): Promise<void>;
  /**
   * Makes `blockIds`, in order, the blob's whole content, and returns the blob's new etag.
   *
   * `over` says which version of the blob the list extends: `{ etag }` that version, `'new'` no blob
   * yet. If the blob is not that version the commit is refused with `StaleBlobError`, unless the blob
   * already holds exactly `blockIds` (the same commit, made before a crash or by a duplicate of this
   * page), or exactly `sameAs` when given (the same commit with the page's block under its other id,
   * see `blockIds.ts`): then its etag is returned. Without this check, a late duplicate of an earlier
   * page would commit a shorter list over a longer one and drop the blocks committed since.
   */
  commitBlocks(blobName: string, blockIds: string[], over: CommitBase, sameAs?: string[]): Promise<string>;
  /**
   * Streams a blob's content, or `count` bytes of it from `offset`; undefined when it does not exist.
   * The bytes arrive as the service sends them: nothing holds the whole blob.
   */
  openRead(blobName: string, range?: { offset: number; count: number }): Promise<BlobContent | undefined>;
  /**
   * Reads a whole blob of at most `maxBytes`, only if it is the version `ifMatch` names (when given).
   * Its size is checked before any byte is downloaded, and the download is of the version sized.
   * Other failures throw as the storage client raised them: the caller knows what they mean to it.
   */
  readSmallBlob(blobName: string, options: { ifMatch?: string; maxBytes: number }): Promise<SmallBlobRead>;
  /** Deletes every blob whose name starts with `prefix`; returns how many. */
  deletePrefix(prefix: string): Promise<number>;
  /** A read-only SAS URL valid until `expiresOn` (SAS mode only). */
  sasUrl(blobName: string, expiresOn: Date): Promise<string>;
}
