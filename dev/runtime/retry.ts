/**
 * Host-side retry policy. The SDK only counts attempts; like the durable extension, the host decides
 * the delay before each retry: firstRetryInterval * backoffCoefficient^(attempt-1), capped by
 * maxRetryInterval, and no more retries once retryTimeout has elapsed since the first attempt.
 */
export interface RetryPolicy {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

export function readRetryPolicy(raw: unknown): RetryPolicy {
  const options = (raw ?? {}) as Partial<RetryPolicy>;
  const positive = (value: unknown): number | undefined =>
    typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined;
  return {
    firstRetryIntervalInMilliseconds: positive(options.firstRetryIntervalInMilliseconds) ?? 1000,
    maxNumberOfAttempts: positive(options.maxNumberOfAttempts) ?? 1,
    backoffCoefficient: positive(options.backoffCoefficient),
    maxRetryIntervalInMilliseconds: positive(options.maxRetryIntervalInMilliseconds),
    retryTimeoutInMilliseconds: positive(options.retryTimeoutInMilliseconds),
  };
}

/**
 * Delay before the attempt after `failedAttempt` (1-based), or undefined when no retry is left:
 * attempts used up, or the retry timeout has passed.
 */
export function nextRetryDelay(
  policy: RetryPolicy,
  failedAttempt: number,
  firstAttemptAt: number,
  now: number,
): number | undefined {
  if (failedAttempt >= policy.maxNumberOfAttempts) {
    return undefined;
  }
  if (
    policy.retryTimeoutInMilliseconds !== undefined &&
    now - firstAttemptAt >= policy.retryTimeoutInMilliseconds
  ) {
    return undefined;
  }
  const raw =
    policy.firstRetryIntervalInMilliseconds * Math.pow(policy.backoffCoefficient ?? 1, failedAttempt - 1);
  return Math.min(raw, policy.maxRetryIntervalInMilliseconds ?? Number.POSITIVE_INFINITY);
}
