/** The port for where NDJSON goes. Blob names are relative to the job's container. */

export interface ExportDestination {
  /** Fails with `DestinationConnectionError` when the container cannot be reached or written. */
  ensureReady(): Promise<void>;
  /**
   * Stages `data` as block `blockId` of `blobName`, then commits `committedBlockIds` + `blockId` as
   * the blob's content. Repeating the call with the same arguments leaves the same blob.
   */
  appendBlock(blobName: string, committedBlockIds: string[], blockId: string, data: Buffer): Promise<void>;
  /** Streams a blob's content; undefined when it does not exist. */
  openRead(blobName: string): Promise<NodeJS.ReadableStream | undefined>;
  /** Deletes every blob whose name starts with `prefix`; returns how many. */
  deletePrefix(prefix: string): Promise<number>;
  /** A read-only SAS URL valid until `expiresOn` (SAS mode only). */
  sasUrl(blobName: string, expiresOn: Date): Promise<string>;
}
