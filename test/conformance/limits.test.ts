/**
 * Bulk Data Access IG v2.0.0: a server SHOULD answer 429 Too Many Requests with Retry-After to a
 * client that polls too often, and may refuse kick-offs beyond its job limits the same way.
 */
import {
  expectOperationOutcome,
  kickoff,
  request,
  startApp,
  type ConformanceApp,
} from './conformanceSupport';

describe('Bulk Data rate limits (IG v2.0.0)', () => {
  describe('per-client limits', () => {
    let target: ConformanceApp;

    beforeAll(async () => {
      // One page per resource keeps the first job running while the test kicks off the second.
      target = await startApp({
        EXPORT_RESOURCES_PER_PAGE: '1',
        EXPORT_TYPE_PARALLELISM: '1',
        EXPORT_POLL_MIN_INTERVAL_MS: '5000',
        EXPORT_MAX_ACTIVE_JOBS_PER_CLIENT: '1',
      });
    });
    afterAll(() => target.app.dispose());

    it('SHOULD answer 429 with Retry-After (integer seconds) and an OperationOutcome when a client polls faster than EXPORT_POLL_MIN_INTERVAL_MS', async () => {
      const accepted = await kickoff(target.base, '$export');
      expect(accepted.status).toBe(202);
      const pollUrl = accepted.headers.get('content-location') as string;
      expect((await request(pollUrl)).status).toBe(202);
      const throttled = await request(pollUrl);
      expectOperationOutcome(throttled, 429);
      expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(throttled.headers.get('retry-after')).toMatch(/^\d+$/);

      // A second kick-off by the same client while the first runs exceeds EXPORT_MAX_ACTIVE_JOBS_PER_CLIENT.
      const busy = await kickoff(target.base, '$export', { query: '_type=Patient' });
      expectOperationOutcome(busy, 429);
      expect(busy.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(busy.text).toMatch(/this client/);
      await request(pollUrl, { method: 'DELETE' });
    });
  });

  describe('service-wide limit', () => {
    let target: ConformanceApp;

    beforeAll(async () => {
      target = await startApp({
        EXPORT_RESOURCES_PER_PAGE: '1',
        EXPORT_TYPE_PARALLELISM: '1',
        EXPORT_MAX_ACTIVE_JOBS: '1',
      });
    });
    afterAll(() => target.app.dispose());

    it('answers 429 with Retry-After when EXPORT_MAX_ACTIVE_JOBS exports already run', async () => {
      const accepted = await kickoff(target.base, '$export');
      expect(accepted.status).toBe(202);
      const busy = await kickoff(target.base, '$export', { query: '_type=Patient' });
      expectOperationOutcome(busy, 429);
      expect(busy.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(busy.text).toMatch(/Too many exports are running/);
      // Once the running job is gone, kick-offs are accepted again.
      await request(accepted.headers.get('content-location') as string, { method: 'DELETE' });
      const after = await kickoff(target.base, '$export', { query: '_type=Patient' });
      expect(after.status).toBe(202);
      await request(after.headers.get('content-location') as string, { method: 'DELETE' });
    });
  });
});
