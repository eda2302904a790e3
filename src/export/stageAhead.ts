/**
 * Blocks staged ahead: a page step that has committed its block stages the next page's block while
 * it checkpoints, when the source has read that page ahead already (`SearchSource.peek`). The next
 * page step then finds its bytes uploaded and only commits them.
 *
 * Each page still costs a stage, a commit and a checkpoint, in that order per unit, but the next
 * page's stage does not wait for this page's checkpoint and the durable round trip. It starts only
 * after this page's commit, because a commit discards the blob's uncommitted blocks.
 *
 * Exactly-once does not depend on it. A block staged ahead has an id of its own
 * (`blockId(…, true)`), and the next page step uses it only when its page is the very page that was
 * staged (the same bytes in memory, under the same blob and id) and the upload succeeded; otherwise
 * it stages its block as usual under the usual id. A block staged ahead that nobody uses is never committed,
 * and Azure Storage discards it with the blob's other uncommitted blocks.
 */
import type { ExportDestination } from '../destination/exportDestination';
import type { SearchPage } from '../sources/searchSource';
import { ExpiringMap } from '../util/expiringMap';

interface Entry {
  data: Buffer;
  /** True once stored; false when the upload failed (the page step then stages the block itself). */
  stored: Promise<boolean>;
}

export class StageAhead {
  private readonly entries: ExpiringMap<string, Entry>;
  /** Blocks used as staged ahead / staged ahead and never used (for tests and diagnostics). */
  used = 0;
  unused = 0;

  /**
   * @param maxEntries Blocks tracked at once (about one per lane); the oldest is forgotten beyond it.
   * @param ttlMs A block nobody took is forgotten after this long (its next page ran elsewhere, or
   *   its unit stopped), so that it holds no page memory.
   */
  constructor(maxEntries = 32, ttlMs = 120_000) {
    this.entries = new ExpiringMap(maxEntries, ttlMs, () => {
      this.unused += 1;
    });
  }

  /**
   * Starts uploading `data`, the block of `page`, as `blockId` of `blobName`. The page's memory is
   * given back (`page.release`) only once the upload is over, whoever releases it.
   */
  start(
    destination: ExportDestination,
    blobName: string,
    blockId: string,
    page: SearchPage,
    data: Buffer,
  ): void {
    const key = keyOf(blobName, blockId);
    if (this.entries.has(key)) return;
    const stored = destination.stageBlock(blobName, blockId, data).then(
      () => true,
      () => false,
    );
    const release = page.release;
    if (release) page.release = () => void stored.then(release);
    this.entries.set(key, { data, stored });
  }

  /**
   * Whether `data` is stored as `blockId` of `blobName` by a stage ahead (waiting for the upload when
   * it is still under way): only when that stage was of this very memory and it succeeded.
   */
  async take(blobName: string, blockId: string, data: Buffer): Promise<boolean> {
    const entry = this.entries.take(keyOf(blobName, blockId));
    if (!entry) return false;
    const stored = entry.data === data && (await entry.stored);
    if (stored) this.used += 1;
    else this.unused += 1;
    return stored;
  }
}

function keyOf(blobName: string, blockId: string): string {
  return `${blobName}\n${blockId}`;
}
