import { apiLimitsFromEnv, ConfigurationError } from '../../../src/config';
import { TooManyRequestsError } from '../../../src/export/errors';
import { IntervalLimiter, TokenBucketLimiter } from '../../../src/http/rateLimiter';

describe('TokenBucketLimiter (kick-offs per client per minute)', () => {
  let clock = 0;
  const now = () => clock;
  beforeEach(() => (clock = 1_000_000));

  function refused(limiter: TokenBucketLimiter, key: string): TooManyRequestsError | undefined {
    try {
      limiter.check(key);
      return undefined;
    } catch (error) {
      expect(error).toBeInstanceOf(TooManyRequestsError);
      return error as TooManyRequestsError;
    }
  }

  it('given a fresh client, when it bursts, then the first `rate` calls pass and the next gets 429 with Retry-After', () => {
    const limiter = new TokenBucketLimiter(3, 'Exports started', now);
    expect(refused(limiter, 'a')).toBeUndefined();
    expect(refused(limiter, 'a')).toBeUndefined();
    expect(refused(limiter, 'a')).toBeUndefined();
    const error = refused(limiter, 'a');
    expect(error?.statusCode).toBe(429);
    expect(error?.retryAfterSeconds).toBe(20);
  });

  it('given an exhausted bucket, when time passes, then tokens come back evenly and other clients are unaffected', () => {
    const limiter = new TokenBucketLimiter(6, 'Exports started', now);
    for (let i = 0; i < 6; i++) limiter.check('a');
    expect(refused(limiter, 'a')).toBeDefined();
    expect(refused(limiter, 'b')).toBeUndefined();
    clock += 9_999;
    expect(refused(limiter, 'a')?.retryAfterSeconds).toBe(1);
    clock += 1;
    expect(refused(limiter, 'a')).toBeUndefined();
    expect(refused(limiter, 'a')).toBeDefined();
    clock += 3_600_000; // a long pause refills to the burst size, not beyond
    for (let i = 0; i < 6; i++) limiter.check('a');
    expect(refused(limiter, 'a')).toBeDefined();
  });

  it('given a rate of 0, then nothing is limited', () => {
    const limiter = new TokenBucketLimiter(0, 'Exports started', now);
    for (let i = 0; i < 1000; i++) limiter.check('a');
  });
});

describe('a full limiter', () => {
  const clock = () => 1_000_000;

  it.each([
    ['IntervalLimiter', () => new IntervalLimiter(1000, 'Status polled', clock, 3)],
    ['TokenBucketLimiter', () => new TokenBucketLimiter(1, 'Exports started', clock, 3)],
  ])(
    'given %s at its key bound, when a flood of new keys arrives, then it forgets the least recently seen key, not a client that is limited now',
    (_name, create) => {
      const limiter = create();
      limiter.check('idle');
      limiter.check('busy');
      limiter.check('flood-1');
      expect(() => limiter.check('busy')).toThrow(TooManyRequestsError);
      for (let i = 2; i <= 3; i++) limiter.check(`flood-${i}`);
      // 'idle' and 'flood-1' made room; 'busy', refused just before the flood, is still refused.
      expect(() => limiter.check('busy')).toThrow(TooManyRequestsError);
      expect(() => limiter.check('idle')).not.toThrow();
    },
  );
});

describe('API limit settings', () => {
  it('given nothing, then the documented defaults apply', () => {
    expect(apiLimitsFromEnv({})).toEqual({
      maxRequestBodyBytes: 1024 * 1024,
      kickoffRatePerMinute: 60,
      pollMinIntervalMs: 1000,
    });
  });

  it.each([
    ['MAX_REQUEST_BODY_BYTES', 'lots'],
    ['MAX_REQUEST_BODY_BYTES', '10'],
    ['MAX_REQUEST_BODY_BYTES', '1e9'],
    ['EXPORT_KICKOFF_RATE_PER_MINUTE', '-1'],
    ['EXPORT_KICKOFF_RATE_PER_MINUTE', '2.5'],
    ['EXPORT_POLL_MIN_INTERVAL_MS', 'soon'],
  ])('given %s=%s, then start-up fails naming the setting', (name, value) => {
    expect(() => apiLimitsFromEnv({ [name]: value })).toThrow(ConfigurationError);
    expect(() => apiLimitsFromEnv({ [name]: value })).toThrow(name);
  });
});
