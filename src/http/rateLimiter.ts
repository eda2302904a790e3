import { TooManyRequestsError } from '../export/errors';

/**
 * A per-key minimum interval between calls (e.g. status polls of one job by one client), kept in
 * this process's memory. On several instances each counts on its own, which still stops a client
 * that polls in a tight loop.
 */
export class IntervalLimiter {
  private readonly lastCall = new Map<string, number>();

  constructor(
    private readonly minIntervalMs: number,
    private readonly what: string,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 100_000,
  ) {}

  check(key: string): void {
    if (this.minIntervalMs <= 0) return;
    const now = this.now();
    const last = this.lastCall.get(key);
    if (last !== undefined && now - last < this.minIntervalMs) {
      const waitSeconds = Math.max(1, Math.ceil((this.minIntervalMs - (now - last)) / 1000));
      throw new TooManyRequestsError(`${this.what} too often; wait ${waitSeconds} s.`, waitSeconds);
    }
    if (this.lastCall.size >= this.maxKeys) this.lastCall.clear();
    this.lastCall.set(key, now);
  }
}
