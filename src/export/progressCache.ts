/**
 * The progress each unit's last checkpoint saved in this process, so that the unit's next page need
 * not read it back from the job store.
 *
 * A cached document is a guess that is checked where it matters: the page's block list commit is
 * conditional on the file's etag recorded in it, and its checkpoint on the document's own etag. A
 * document that another execution (a duplicate delivery, another instance) has moved on since is
 * refused at one of the two, and the page step then reads the stored one (see pageStep.ts).
 */
import type { ProgressDocument } from './model';

export class ProgressCache {
  private readonly entries = new Map<string, ProgressDocument>();

  /** `maxUnits` documents at most (the oldest goes first); 0 keeps none. */
  constructor(private readonly maxUnits: number) {}

  get(jobId: string, unitId: string): ProgressDocument | undefined {
    return this.entries.get(key(jobId, unitId));
  }

  /** Remembers a document just saved; a finished unit is dropped instead. */
  remember(progress: ProgressDocument): void {
    const id = key(progress.jobId, progress.unitId);
    this.entries.delete(id);
    if (progress.done || this.maxUnits === 0 || !progress._etag) return;
    if (this.entries.size >= this.maxUnits) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(id, progress);
  }

  forget(jobId: string, unitId: string): void {
    this.entries.delete(key(jobId, unitId));
  }
}

function key(jobId: string, unitId: string): string {
  return `${jobId}\n${unitId}`;
}
