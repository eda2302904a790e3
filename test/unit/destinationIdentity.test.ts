import {
  assertSameDestination,
  normaliseAccountUrl,
  sameDestination,
} from '../../src/destination/destinationIdentity';
import { DestinationConnectionError } from '../../src/export/errors';

describe('destination identity', () => {
  const recorded = { accountUrl: 'https://acct.blob.core.windows.net', container: 'exports' };

  test('equal destinations pass, whatever the case of the host or a trailing slash', () => {
    expect(() =>
      assertSameDestination(recorded, {
        accountUrl: 'https://ACCT.blob.core.windows.net/',
        container: 'exports',
      }),
    ).not.toThrow();
    expect(
      sameDestination(recorded, { ...recorded, accountUrl: 'https://acct.blob.core.windows.net/?sv=x' }),
    ).toBe(true);
    expect(normaliseAccountUrl('http://127.0.0.1:10000/devstoreaccount1/')).toBe(
      'http://127.0.0.1:10000/devstoreaccount1',
    );
  });

  test.each([
    [{ accountUrl: 'https://other.blob.core.windows.net', container: 'exports' }],
    [{ accountUrl: 'https://acct.blob.core.windows.net', container: 'exports2' }],
    [{ accountUrl: 'http://acct.blob.core.windows.net', container: 'exports' }],
  ])('a different destination %p is a DestinationConnectionError 400', (configured) => {
    let error: unknown;
    try {
      assertSameDestination(recorded, configured);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DestinationConnectionError);
    expect((error as DestinationConnectionError).statusCode).toBe(400);
  });
});
