/**
 * The local hosts' stand-in for the Functions host's system key. On Azure the durable management API
 * and the admin API answer only with a host key; the local runtime and the engine worker do the same
 * whenever the app authenticates its callers (AUTH_MODE other than `none`), so a token-protected app
 * does not leave every job's orchestration open beside it. With `AUTH_MODE=none` (local development)
 * they stay open, on loopback, and a log line says so.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { PrefixedApi } from './httpHost';
import type { ApiRequest } from './managementApi';

/** The key the management and admin APIs require, or undefined when they are open. */
export function hostKeyFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  if ((env.AUTH_MODE ?? 'none') === 'none') return undefined;
  return env.LOCAL_HOST_KEY || randomBytes(32).toString('base64url');
}

/** One log line on how the management and admin APIs are protected. */
export function hostKeyNotice(key: string | undefined): string {
  return key === undefined
    ? '[local] The durable management and admin APIs answer without a key (AUTH_MODE=none, loopback only).'
    : '[local] The durable management and admin APIs require the host key (code=… or x-functions-key; LOCAL_HOST_KEY sets it).';
}

/** `api`, answering 401 to a request without `key` (query `code` or header `x-functions-key`). */
export function keyedApi(api: PrefixedApi, key: string | undefined): PrefixedApi {
  if (key === undefined) return api;
  return {
    prefix: api.prefix,
    handle: (request) => (carriesKey(request, key) ? api.handle(request) : { status: 401 }),
  };
}

function carriesKey(request: ApiRequest, key: string): boolean {
  const header = request.headers['x-functions-key'];
  const given = request.query.get('code') ?? (Array.isArray(header) ? header[0] : header);
  if (given === undefined) return false;
  const expected = Buffer.from(key);
  const actual = Buffer.from(given);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
