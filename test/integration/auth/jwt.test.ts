import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import { createAuthenticator, Authenticator } from '../../../src/auth/authenticator';
import { AuthenticationUnavailableError, ForbiddenError, UnauthorizedError } from '../../../src/auth/errors';
import { JwtVerifier } from '../../../src/auth/jwtVerifier';
import { assertCanExport } from '../../../src/auth/smartScopes';
import {
  LocalIdentityProvider,
  signJws,
  startLocalIdentityProvider,
} from '../../support/localIdentityProvider';

const START = Date.UTC(2025, 5, 1, 12, 0, 0);

describe('JWT authentication against a local JWKS over loopback', () => {
  let idp: LocalIdentityProvider;
  let clock: number;
  const now = () => clock;

  function verifier(extra: Partial<ConstructorParameters<typeof JwtVerifier>[0]> = {}): JwtVerifier {
    return new JwtVerifier({
      issuer: idp.issuer,
      audience: idp.audience,
      jwksUri: idp.jwksUri,
      now,
      ...extra,
    });
  }

  function authenticator(): Authenticator {
    return createAuthenticator(
      { mode: 'jwt', issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri },
      { now },
    );
  }

  async function expectUnauthorized(
    promise: Promise<unknown>,
    description: RegExp,
  ): Promise<UnauthorizedError> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UnauthorizedError);
    const unauthorized = error as UnauthorizedError;
    expect(unauthorized.statusCode).toBe(401);
    expect(unauthorized.message).toMatch(description);
    expect(unauthorized.wwwAuthenticate).toMatch(/^Bearer realm="fhir-export", error="invalid_token"/);
    return unauthorized;
  }

  beforeEach(async () => {
    clock = START;
    idp = await startLocalIdentityProvider({ now });
  });

  afterEach(async () => {
    await idp.close();
  });

  test('Given a valid token, When authenticated, Then the principal carries client, subject and scopes', async () => {
    const token = idp.sign({
      sub: 'svc-1',
      azp: 'client-a',
      scope: 'system/Patient.read system/Observation.rs',
    });
    const principal = await authenticator().authenticate(`Bearer ${token}`);
    expect(principal).toEqual({
      clientId: 'client-a',
      subject: 'svc-1',
      scopes: ['system/Patient.read', 'system/Observation.rs'],
    });
  });

  test('Entra-style claims: appid, roles array and an audience array', async () => {
    const token = idp.sign({
      azp: undefined,
      appid: 'entra-app',
      scope: undefined,
      roles: ['system/*.read'],
      aud: ['other', idp.audience],
    });
    const principal = await authenticator().authenticate(`bearer ${token}`);
    expect(principal.clientId).toBe('entra-app');
    expect(principal.scopes).toEqual(['system/*.read']);
  });

  test('an expired token is refused, within the clock skew it is still accepted', async () => {
    const token = idp.sign({}, { expiresInSeconds: 60 });
    const v = verifier();
    clock = START + 100_000; // 100 s later: 40 s past exp, inside the 60 s skew
    await expect(v.verify(token)).resolves.toBeDefined();
    clock = START + 121_000; // 61 s past exp
    await expectUnauthorized(v.verify(token), /expired/);
  });

  test('a token without exp is refused', async () => {
    await expectUnauthorized(verifier().verify(idp.sign({ exp: undefined })), /'exp'/);
  });

  test('a token that is not yet valid (nbf) is refused', async () => {
    const nowSeconds = START / 1000;
    await expectUnauthorized(verifier().verify(idp.sign({ nbf: nowSeconds + 600 })), /not valid yet/);
    await expect(verifier().verify(idp.sign({ nbf: nowSeconds + 30 }))).resolves.toBeDefined();
  });

  test('a token issued in the future (iat) is refused', async () => {
    await expectUnauthorized(verifier().verify(idp.sign({ iat: START / 1000 + 3600 })), /future/);
  });

  test('wrong audience and wrong issuer are refused without fetching keys', async () => {
    await expectUnauthorized(verifier().verify(idp.sign({ aud: 'api://someone-else' })), /audience/);
    await expectUnauthorized(verifier().verify(idp.sign({ aud: [] })), /audience/);
    await expectUnauthorized(verifier().verify(idp.sign({ iss: `${idp.issuer}/other` })), /issuer/);
    expect(idp.jwksRequests).toBe(0);
  });

  test('a bad signature is refused', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await expectUnauthorized(verifier().verify(idp.sign({}, { privateKey })), /signature/);

    // A valid token whose payload was swapped for another one keeps the old signature.
    const good = idp.sign({ scope: 'system/Patient.read' }).split('.');
    const other = idp.sign({ scope: 'system/*.*' }).split('.');
    await expectUnauthorized(verifier().verify(`${good[0]}.${other[1]}.${good[2]}`), /signature/);
  });

  test('alg none, HS256, unknown algs and unsigned tokens are refused before any key fetch', async () => {
    const claims = { iss: idp.issuer, aud: idp.audience, exp: START / 1000 + 300, sub: 'x' };
    const v = verifier();
    const noneToken = signJws({ alg: 'none', typ: 'JWT' }, claims, undefined);
    await expectUnauthorized(v.verify(noneToken), /not signed/);
    await expectUnauthorized(v.verify(`${noneToken}c2ln`), /'none' is not accepted/);
    const hs = idp.sign({}, { alg: 'HS256' }).split('.');
    await expectUnauthorized(v.verify(`${hs[0]}.${hs[1]}.c2lnbmF0dXJl`), /'HS256' is not accepted/);
    const noAlg = idp.sign({}, { header: { alg: '' } });
    await expectUnauthorized(v.verify(`${noAlg}c2ln`), /no algorithm/);
    const missingAlg = idp.sign({}, { header: { alg: undefined } });
    await expectUnauthorized(v.verify(`${missingAlg}c2ln`), /no algorithm/);
    const unsigned = idp.sign().split('.');
    await expectUnauthorized(v.verify(`${unsigned[0]}.${unsigned[1]}.`), /not signed/);
    await expectUnauthorized(v.verify(`${unsigned[0]}.${unsigned[1]}`), /three segments/);
    await expectUnauthorized(v.verify(`.${unsigned[1]}.${unsigned[2]}`), /well-formed/);
    await expectUnauthorized(v.verify('a.b.c.d.e'), /three segments/);
    await expectUnauthorized(v.verify(idp.sign({}, { header: { crit: ['exp'] } })), /critical/);
    expect(idp.jwksRequests).toBe(0);
  });

  test('the error never echoes the token', async () => {
    const token = idp.sign({ aud: 'nope' });
    const error = await expectUnauthorized(authenticator().authenticate(`Bearer ${token}`), /audience/);
    for (const part of token.split('.')) {
      expect(error.message).not.toContain(part);
      expect(error.wwwAuthenticate).not.toContain(part);
    }
  });

  test('missing or non-bearer Authorization headers get a challenge without an error code', async () => {
    for (const header of [undefined, '', 'Basic dXNlcjpwYXNz']) {
      const error = await authenticator()
        .authenticate(header)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnauthorizedError);
      expect((error as UnauthorizedError).wwwAuthenticate).toBe('Bearer realm="fhir-export"');
    }
    const malformed = await authenticator()
      .authenticate('Bearer a b')
      .catch((e: unknown) => e);
    expect((malformed as UnauthorizedError).wwwAuthenticate).toMatch(/error="invalid_request"/);
    expect(idp.jwksRequests).toBe(0);
  });

  test('the key set is cached: N verifications cause one fetch', async () => {
    const v = verifier();
    for (let i = 0; i < 10; i++) await v.verify(idp.sign({ sub: `c${i}` }));
    await Promise.all(Array.from({ length: 10 }, () => v.verify(idp.sign())));
    expect(idp.jwksRequests).toBe(1);
    clock += 11 * 60 * 1000; // past the 10 minute TTL
    await v.verify(idp.sign());
    expect(idp.jwksRequests).toBe(2);
  });

  test('key rotation: an unknown kid causes one refetch, then the new key is accepted', async () => {
    const v = verifier();
    await v.verify(idp.sign());
    expect(idp.jwksRequests).toBe(1);

    clock += 60_000;
    const oldKid = idp.currentKid;
    const newKid = idp.rotateKey();
    expect(newKid).not.toBe(oldKid);
    await v.verify(idp.sign());
    expect(idp.jwksRequests).toBe(2);
    await v.verify(idp.sign());
    expect(idp.jwksRequests).toBe(2);
  });

  test('refetches for unknown kids are rate-limited', async () => {
    const v = verifier();
    await v.verify(idp.sign());
    // Tokens naming kids that exist nowhere: the first one right after a fetch is not refetched.
    await expectUnauthorized(v.verify(idp.sign({}, { kid: 'bogus-1' })), /not known/);
    expect(idp.jwksRequests).toBe(1);
    clock += 31_000;
    await expectUnauthorized(v.verify(idp.sign({}, { kid: 'bogus-2' })), /not known/);
    expect(idp.jwksRequests).toBe(2);
    for (let i = 0; i < 20; i++) {
      await expectUnauthorized(v.verify(idp.sign({}, { kid: `bogus-x${i}` })), /not known/);
    }
    expect(idp.jwksRequests).toBe(2);
  });

  test('a JWKS body past the size bound is refused while it streams: a 503, not a parsed key set', async () => {
    let sent = 0;
    const huge = http.createServer((_req, res) => {
      // No Content-Length: only counting while reading can stop it.
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = (): void => {
        while (sent < 32 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end('{"keys":[]}');
      };
      res.on('error', () => undefined);
      pump();
    });
    await new Promise<void>((resolve) => huge.listen(0, '127.0.0.1', resolve));
    try {
      const port = (huge.address() as AddressInfo).port;
      const error = await verifier({ jwksUri: `http://127.0.0.1:${port}/jwks` })
        .verify(idp.sign())
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthenticationUnavailableError);
      expect(sent).toBeLessThan(32 * 1024 * 1024); // the reader gave up before the whole body was sent
    } finally {
      huge.closeAllConnections();
      await new Promise((resolve) => huge.close(resolve));
    }
  });

  test('an unreachable JWKS is a 503, and cached keys keep working when a refresh fails', async () => {
    idp.failJwksWith(503);
    const fresh = verifier();
    const error = await fresh.verify(idp.sign()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationUnavailableError);
    expect((error as AuthenticationUnavailableError).statusCode).toBe(503);

    idp.failJwksWith(undefined);
    const v = verifier();
    await v.verify(idp.sign());
    idp.failJwksWith(503);
    clock += 11 * 60 * 1000;
    await expect(v.verify(idp.sign())).resolves.toBeDefined();
  });

  test('while the JWKS fails, tokens do not each cause a fetch: cold, or stale with invented kids', async () => {
    idp.failJwksWith(503);
    const cold = verifier();
    for (let i = 0; i < 20; i++) {
      await expect(cold.verify(idp.sign())).rejects.toBeInstanceOf(AuthenticationUnavailableError);
    }
    expect(idp.jwksRequests).toBe(1);

    idp.failJwksWith(undefined);
    const warm = verifier();
    await warm.verify(idp.sign());
    const before = idp.jwksRequests;
    idp.failJwksWith(503);
    clock += 60_000;
    for (let i = 0; i < 20; i++) {
      await expectUnauthorized(warm.verify(idp.sign({}, { kid: `invented-${i}` })), /not known/);
    }
    expect(idp.jwksRequests - before).toBe(1);
  });

  test('a token without kid is verified when the key set holds several keys', async () => {
    idp.rotateKey({ keepPrevious: true });
    await expect(verifier().verify(idp.sign({}, { kid: null }))).resolves.toBeDefined();
  });

  test('an RSA key is not used for ES256 and vice versa', async () => {
    const rsaToken = idp.sign().split('.');
    const forged = signJws(
      { alg: 'ES256', kid: idp.currentKid },
      JSON.parse(Buffer.from(rsaToken[1], 'base64url').toString()),
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
    );
    await expectUnauthorized(verifier().verify(forged), /does not suit/);
  });

  test('PS256 and RS512 with the RSA key are accepted; algorithms can be restricted', async () => {
    await expect(verifier().verify(idp.sign({}, { alg: 'PS256' }))).resolves.toBeDefined();
    await expect(verifier().verify(idp.sign({}, { alg: 'RS512' }))).resolves.toBeDefined();
    await expectUnauthorized(
      verifier({ algorithms: ['RS256'] }).verify(idp.sign({}, { alg: 'PS256' })),
      /not accepted/,
    );
  });

  test('a JWK that names its alg may only be used with that alg', async () => {
    const strict = await startLocalIdentityProvider({ now, publishAlg: true });
    try {
      const v = new JwtVerifier({
        issuer: strict.issuer,
        audience: strict.audience,
        jwksUri: strict.jwksUri,
        now,
      });
      await expect(v.verify(strict.sign())).resolves.toBeDefined();
      await expectUnauthorized(v.verify(strict.sign({}, { alg: 'RS384' })), /does not suit/);
    } finally {
      await strict.close();
    }
  });

  test('ES256 and ES384 keys', async () => {
    for (const keyType of ['P-256', 'P-384'] as const) {
      const ec = await startLocalIdentityProvider({ now, keyType });
      try {
        const v = new JwtVerifier({ issuer: ec.issuer, audience: ec.audience, jwksUri: ec.jwksUri, now });
        const { header, claims } = await v.verify(ec.sign({ sub: 'ec-client' }));
        expect(header.alg).toBe(keyType === 'P-256' ? 'ES256' : 'ES384');
        expect(claims.sub).toBe('ec-client');
        const wrong = ec.sign(
          {},
          { privateKey: generateKeyPairSync('ec', { namedCurve: keyType }).privateKey },
        );
        await expectUnauthorized(v.verify(wrong), /signature/);
      } finally {
        await ec.close();
      }
    }
  });

  test('a token without kid is verified with the matching key of the set', async () => {
    await expect(verifier().verify(idp.sign({}, { kid: null }))).resolves.toBeDefined();
  });

  describe('scopes of an authenticated principal', () => {
    const allTypes = ['Patient', 'Observation', 'Encounter'];

    async function scopesOf(claims: Record<string, unknown>): Promise<string[]> {
      return (await authenticator().authenticate(`Bearer ${idp.sign(claims)}`)).scopes;
    }

    test('a missing type scope is a 403 naming the types', async () => {
      const scopes = await scopesOf({ scope: 'system/Patient.read' });
      expect(() => assertCanExport(scopes, ['Patient'])).not.toThrow();
      let error: unknown;
      try {
        assertCanExport(scopes, allTypes);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ForbiddenError);
      expect((error as ForbiddenError).statusCode).toBe(403);
      expect((error as ForbiddenError).message).toContain('Observation, Encounter');
      expect((error as ForbiddenError).wwwAuthenticate).toMatch(/error="insufficient_scope"/);
    });

    test('v1 and v2 wildcards allow everything; a user/ scope allows nothing', async () => {
      for (const scope of ['system/*.read', 'system/*.*', 'system/*.rs', 'launch system/*.cruds']) {
        const granted = await scopesOf({ scope }); // from a signed, verified token
        expect(() => assertCanExport(granted, allTypes)).not.toThrow();
      }
      const userScopes = await scopesOf({ scope: 'user/*.read patient/*.rs' });
      expect(() => assertCanExport(userScopes, ['Patient'])).toThrow(ForbiddenError);
    });
  });
});
