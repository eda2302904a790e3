/** The port for where NDJSON goes. Blob names are relative to the job's container. */

export interface ExportDestination {
  /** Fails with `DestinationConnectionError` when the container cannot be reached or written. */
  ensureReady(): Promise<void>;
  /** Uploads `data` as an uncommitted block of `blobName`; staging the same id again replaces it. */
  stageBlock(blobName: string, blockId: string, data: Buffer): Promise<void>;
  /**
   * Makes `blockIds`, in order, the blob's whole content. Committing the same list again leaves the
   * same blob, which is what makes a retried page idempotent.
   */
  commitBlocks(blobName: string, blockIds: string[]): Promise<void>;
  /** Streams a blob's content; undefined when it does not exist. */
  openRead(blobName: string): Promise<NodeJS.ReadableStream | undefined>;
  /** Deletes every blob whose name starts with `prefix`; returns how many. */
  deletePrefix(prefix: string): Promise<number>;
  /** A read-only SAS URL valid until `expiresOn` (SAS mode only). */
  sasUrl(blobName: string, expiresOn: Date): Promise<string>;
}
