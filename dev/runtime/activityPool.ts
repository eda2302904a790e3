/** Runs queued jobs with at most `limit` at once (the host's maxConcurrentActivityFunctions). */
export class ActivityPool {
  private running = 0;
  private readonly queue: Array<() => Promise<void>> = [];
  private readonly inFlight = new Set<Promise<void>>();
  private highWater = 0;

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`maxConcurrentActivities must be a positive integer, got ${limit}`);
    }
  }

  /** Highest number of jobs seen running at the same time. */
  get maxObservedConcurrency(): number {
    return this.highWater;
  }

  submit(job: () => Promise<void>): void {
    this.queue.push(job);
    this.pump();
  }

  /** Drops queued jobs and waits (up to `timeoutMs`) for running ones. */
  async drain(timeoutMs: number): Promise<void> {
    this.queue.length = 0;
    const all = Promise.allSettled([...this.inFlight]);
    await Promise.race([all, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  }

  private pump(): void {
    while (this.running < this.limit && this.queue.length > 0) {
      const job = this.queue.shift() as () => Promise<void>;
      this.running++;
      this.highWater = Math.max(this.highWater, this.running);
      const run = job()
        .catch(() => undefined)
        .finally(() => {
          this.running--;
          this.inFlight.delete(run);
          this.pump();
        });
      this.inFlight.add(run);
    }
  }
}
