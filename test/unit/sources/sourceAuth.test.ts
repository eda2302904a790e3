import { SourceError } from '../../../src/export/errors';
import { TOKEN_EXPIRY_MARGIN_MS, createSourceAuth } from '../../../src/sources/sourceAuth';

function tokenFetch(expiresIn: number) {
  let issued = 0;
  const fake = (async () => {
    issued += 1;
    return new Response(JSON.stringify({ access_token: `t${issued}`, expires_in: expiresIn }), {
      status: 200,
    });
  }) as typeof fetch;
  return { fake, count: () => issued };
}

describe('client-credentials token cache', () => {
  const config = {
    mode: 'client-credentials',
    tokenUrl: 'https://login/token',
    clientId: 'c',
    clientSecret: 's',
  } as const;

  it('reuses the token until expiry minus the margin, then renews it', async () => {
    let now = 1_000_000;
    const { fake, count } = tokenFetch(600);
    const auth = createSourceAuth(config, 'https://fhir/r4', { fetch: fake, now: () => now });
    expect(await auth.authorization()).toBe('Bearer t1');
    now += 600_000 - TOKEN_EXPIRY_MARGIN_MS - 1;
    expect(await auth.authorization()).toBe('Bearer t1');
    now += 2;
    expect(await auth.authorization()).toBe('Bearer t2');
    expect(count()).toBe(2);
  });

  it('shares one token request between concurrent callers and renews after invalidate', async () => {
    const { fake, count } = tokenFetch(3600);
    const auth = createSourceAuth(config, 'https://fhir/r4', { fetch: fake });
    const headers = await Promise.all([auth.authorization(), auth.authorization(), auth.authorization()]);
    expect(new Set(headers)).toEqual(new Set(['Bearer t1']));
    expect(auth.invalidate('Bearer t1')).toBe(true);
    expect(await auth.authorization()).toBe('Bearer t2');
    expect(count()).toBe(2);
  });

  it.each([
    [429, '12', 12],
    [503, 'Thu, 01 Jan 1970 00:17:10 GMT', 30],
  ])(
    'reports a token endpoint answering %i with Retry-After %s as transient with the wait it asked for',
    async (status, retryAfter, wait) => {
      const throttling = (async () =>
        new Response('{"error":"temporarily_unavailable"}', {
          status,
          headers: { 'retry-after': retryAfter },
        })) as typeof fetch;
      const auth = createSourceAuth(config, 'https://fhir/r4', { fetch: throttling, now: () => 1_000_000 });
      await expect(auth.authorization()).rejects.toMatchObject({
        transient: true,
        statusCode: 503,
        retryAfterSeconds: wait,
      });
    },
  );

  it('reports an unreachable token endpoint as transient', async () => {
    const failing = (async () => {
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    const auth = createSourceAuth(config, 'https://fhir/r4', { fetch: failing });
    await expect(auth.authorization()).rejects.toMatchObject({ transient: true, statusCode: 503 });
    await expect(auth.authorization()).rejects.toBeInstanceOf(SourceError);
  });
});

describe('static modes', () => {
  it('none sends nothing and bearer never refreshes', async () => {
    const none = createSourceAuth({ mode: 'none' }, 'https://fhir/r4');
    expect(await none.authorization()).toBeUndefined();
    const bearer = createSourceAuth({ mode: 'bearer', token: 'abc' }, 'https://fhir/r4');
    expect(await bearer.authorization()).toBe('Bearer abc');
    expect(bearer.invalidate('Bearer abc')).toBe(false);
  });

  it('managed identity asks for {origin}/.default unless a scope is configured', async () => {
    const scopes: unknown[] = [];
    const credential = {
      getToken: async (scope: string | string[]) => {
        scopes.push(scope);
        return { token: 'az', expiresOnTimestamp: Date.now() + 3_600_000 };
      },
    };
    await createSourceAuth({ mode: 'managed-identity' }, 'https://ws-fhir.fhir.azurehealthcareapis.com/', {
      credential,
    }).authorization();
    await createSourceAuth({ mode: 'managed-identity', scope: 'api://x/.default' }, 'https://h/r4', {
      credential,
    }).authorization();
    expect(scopes).toEqual(['https://ws-fhir.fhir.azurehealthcareapis.com/.default', 'api://x/.default']);
  });
});
