import {
  bearerToken,
  createAuthenticator,
  principalFromClaims,
  readAuthConfig,
} from '../../../src/auth/authenticator';
import { bearerChallenge, ForbiddenError, UnauthorizedError } from '../../../src/auth/errors';
import { BadRequestError, ExportError } from '../../../src/export/errors';

const JWT_ENV = {
  AUTH_ISSUER: 'https://login.microsoftonline.com/tenant-id/v2.0',
  AUTH_AUDIENCE: 'api://fhir-export',
  AUTH_JWKS_URI: 'https://login.microsoftonline.com/tenant-id/discovery/v2.0/keys',
};

describe('readAuthConfig', () => {
  test('defaults to jwt mode with a 60 s clock skew', () => {
    expect(readAuthConfig(JWT_ENV)).toEqual({
      mode: 'jwt',
      issuer: JWT_ENV.AUTH_ISSUER,
      audience: JWT_ENV.AUTH_AUDIENCE,
      jwksUri: JWT_ENV.AUTH_JWKS_URI,
      clockSkewSeconds: 60,
    });
  });

  test('mode none needs nothing else', () => {
    expect(readAuthConfig({ AUTH_MODE: 'none' })).toEqual({ mode: 'none' });
    expect(readAuthConfig({ AUTH_MODE: ' NONE ' })).toEqual({ mode: 'none' });
  });

  test('comma-separated issuers and audiences become lists', () => {
    const config = readAuthConfig({
      ...JWT_ENV,
      AUTH_ISSUER: 'https://sts.windows.net/t/, https://login.microsoftonline.com/t/v2.0',
      AUTH_AUDIENCE: 'api://fhir-export,11111111-2222-3333-4444-555555555555',
      AUTH_CLOCK_SKEW_SECONDS: '0',
    });
    expect(config).toMatchObject({
      issuer: ['https://sts.windows.net/t/', 'https://login.microsoftonline.com/t/v2.0'],
      audience: ['api://fhir-export', '11111111-2222-3333-4444-555555555555'],
      clockSkewSeconds: 0,
    });
  });

  test.each([
    [{ ...JWT_ENV, AUTH_ISSUER: undefined }, /AUTH_ISSUER/],
    [{ ...JWT_ENV, AUTH_AUDIENCE: ' ' }, /AUTH_AUDIENCE/],
    [{ ...JWT_ENV, AUTH_JWKS_URI: '' }, /AUTH_JWKS_URI/],
    [{ ...JWT_ENV, AUTH_JWKS_URI: 'not a url' }, /AUTH_JWKS_URI/],
    [{ ...JWT_ENV, AUTH_JWKS_URI: 'http://idp.example.com/keys' }, /AUTH_JWKS_URI must use https/],
    [{ ...JWT_ENV, AUTH_CLOCK_SKEW_SECONDS: '-1' }, /AUTH_CLOCK_SKEW_SECONDS/],
    [{ ...JWT_ENV, AUTH_CLOCK_SKEW_SECONDS: '9999' }, /AUTH_CLOCK_SKEW_SECONDS/],
    [{ ...JWT_ENV, AUTH_MODE: 'basic' }, /AUTH_MODE/],
  ])('refuses incomplete or invalid settings (%#)', (env, message) => {
    expect(() => readAuthConfig(env)).toThrow(message);
  });

  test('plain http is accepted for a loopback JWKS', () => {
    expect(readAuthConfig({ ...JWT_ENV, AUTH_JWKS_URI: 'http://127.0.0.1:8080/jwks' })).toMatchObject({
      jwksUri: 'http://127.0.0.1:8080/jwks',
    });
  });
});

describe('bearerToken', () => {
  test('extracts the token, scheme case-insensitive', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('bearer   abc')).toBe('abc');
  });

  test.each([undefined, '', '   ', 'Basic Zm9vOmJhcg==', 'Token abc'])(
    'no bearer credentials: %p',
    (header) => {
      const error = (() => {
        try {
          bearerToken(header);
        } catch (e) {
          return e as UnauthorizedError;
        }
        throw new Error('expected an error');
      })();
      expect(error).toBeInstanceOf(UnauthorizedError);
      expect(error.wwwAuthenticate).toBe('Bearer realm="fhir-export"');
    },
  );

  test('a malformed bearer header is invalid_request', () => {
    expect(() => bearerToken('Bearer')).toThrow(UnauthorizedError);
    expect(() => bearerToken('Bearer a b')).toThrow(/malformed/);
  });
});

describe('principalFromClaims', () => {
  test('client id preference: azp, appid, client_id, sub', () => {
    expect(principalFromClaims({ azp: 'a', appid: 'b', client_id: 'c', sub: 'd' }).clientId).toBe('a');
    expect(principalFromClaims({ appid: 'b', client_id: 'c', sub: 'd' }).clientId).toBe('b');
    expect(principalFromClaims({ client_id: 'c', sub: 'd' }).clientId).toBe('c');
    expect(principalFromClaims({ sub: 'd', scope: 'system/*.read' })).toEqual({
      clientId: 'd',
      subject: 'd',
      scopes: ['system/*.read'],
    });
  });

  test('a token naming no client is refused', () => {
    expect(() => principalFromClaims({ scope: 'system/*.read' })).toThrow(UnauthorizedError);
  });
});

describe('createAuthenticator', () => {
  test('mode none: every caller is anonymous with system/*.read', async () => {
    const auth = createAuthenticator({ mode: 'none' });
    expect(auth.mode).toBe('none');
    const principal = await auth.authenticate(undefined);
    expect(principal).toEqual({ clientId: 'anonymous', subject: 'anonymous', scopes: ['system/*.read'] });
    principal.scopes.push('mutated');
    expect((await auth.authenticate('Bearer x')).scopes).toEqual(['system/*.read']);
  });

  test('mode jwt refuses a missing header without contacting the key server', async () => {
    const fetchJwks = jest.fn();
    const auth = createAuthenticator({ mode: 'jwt', ...readAuthConfigParts() }, { fetchJwks });
    await expect(auth.authenticate(undefined)).rejects.toBeInstanceOf(UnauthorizedError);
    await expect(auth.authenticate('Bearer not-a-jwt')).rejects.toThrow(/three segments/);
    expect(fetchJwks).not.toHaveBeenCalled();
  });

  function readAuthConfigParts() {
    return { issuer: JWT_ENV.AUTH_ISSUER, audience: JWT_ENV.AUTH_AUDIENCE, jwksUri: JWT_ENV.AUTH_JWKS_URI };
  }
});

describe('auth errors', () => {
  test('are ExportErrors carrying their HTTP status', () => {
    const unauthorized = new UnauthorizedError('The token has expired.');
    const forbidden = new ForbiddenError('No.');
    expect(unauthorized).toBeInstanceOf(ExportError);
    expect(unauthorized.statusCode).toBe(401);
    expect(unauthorized.name).toBe('UnauthorizedError');
    expect(forbidden).toBeInstanceOf(ExportError);
    expect(forbidden.statusCode).toBe(403);
    expect(new BadRequestError('x')).not.toBeInstanceOf(UnauthorizedError);
  });

  test('challenge values stay well formed whatever the message contains', () => {
    const value = bearerChallenge('invalid_token', 'bad "quoted" \\ thing\r\nInjected: yes ü');
    expect(value).toBe(
      'Bearer realm="fhir-export", error="invalid_token", error_description="bad  quoted    thing  Injected: yes  "',
    );
    expect(value).not.toMatch(/[\r\n]/);
  });
});
