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
      // A refused call keeps its client among the most recently seen, with the time of its last pass.
      remember(this.lastCall, key, last, this.maxKeys);
      const waitSeconds = Math.max(1, Math.ceil((this.minIntervalMs - (now - last)) / 1000));
      throw new TooManyRequestsError(`${this.what} too often; wait ${waitSeconds} s.`, waitSeconds);
    }
    remember(this.lastCall, key, now, this.maxKeys);
  }
}

/**
 * A per-key token bucket (e.g. kick-offs per client): `perMinute` tokens refill evenly over a minute
 * and at most `perMinute` may be saved up, so a client can make a short burst of that size and then
 * one call every `60 / perMinute` seconds. In this process's memory, like IntervalLimiter.
 */
export class TokenBucketLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly what: string,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 100_000,
  ) {}

  check(key: string): void {
    if (this.perMinute <= 0) return;
    const now = this.now();
    const refillPerMs = this.perMinute / 60_000;
    const bucket = this.buckets.get(key);
    const tokens = bucket
      ? Math.min(this.perMinute, bucket.tokens + Math.max(0, now - bucket.at) * refillPerMs)
      : this.perMinute;
    if (tokens < 1) {
      const waitSeconds = Math.max(1, Math.ceil((1 - tokens) / refillPerMs / 1000));
      remember(this.buckets, key, { tokens, at: now }, this.maxKeys);
      throw new TooManyRequestsError(`${this.what} too often; wait ${waitSeconds} s.`, waitSeconds);
    }
    remember(this.buckets, key, { tokens: tokens - 1, at: now }, this.maxKeys);
  }
}

/**
 * Sets `key` as the most recently used entry of `entries` and, past `maxKeys`, forgets the least
 * recently used one. Forgetting only the oldest means a flood of new keys cannot reset the limit of a
 * client that is calling right now.
 */
function remember<V>(entries: Map<string, V>, key: string, value: V, maxKeys: number): void {
  entries.delete(key);
  entries.set(key, value);
  if (entries.size > maxKeys) {
    const oldest = entries.keys().next();
    if (!oldest.done) entries.delete(oldest.value);
  }
}
