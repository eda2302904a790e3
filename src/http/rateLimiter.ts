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
      this.buckets.set(key, { tokens, at: now });
      throw new TooManyRequestsError(`${this.what} too often; wait ${waitSeconds} s.`, waitSeconds);
    }
    if (!bucket && this.buckets.size >= this.maxKeys) this.buckets.clear();
    this.buckets.set(key, { tokens: tokens - 1, at: now });
  }
}
