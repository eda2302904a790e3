/**
 * A job records where it writes (`DestinationRef`) at kick-off. Before writing, a resumed job checks
 * that the configured destination is still that one, so that a configuration change never splits a
 * job's files across two accounts or containers.
 */
import { DestinationConnectionError } from '../export/errors';
import type { DestinationRef } from '../export/model';

/** Normalises a blob service URL: lower-case scheme and host, no query, no trailing slash. */
export function normaliseAccountUrl(accountUrl: string): string {
  const url = new URL(accountUrl);
  url.search = '';
  url.hash = '';
  return `${url.protocol}//${url.host}${url.pathname}`.toLowerCase().replace(/\/+$/, '');
}

export function sameDestination(a: DestinationRef, b: DestinationRef): boolean {
  return (
    normaliseAccountUrl(a.accountUrl) === normaliseAccountUrl(b.accountUrl) && a.container === b.container
  );
}

/** Throws `DestinationConnectionError(400)` when the configured destination is not the recorded one. */
export function assertSameDestination(recorded: DestinationRef, configured: DestinationRef): void {
  if (!sameDestination(recorded, configured)) {
    throw new DestinationConnectionError(
      `The export destination changed since the job started (was container '${recorded.container}' at ${normaliseAccountUrl(recorded.accountUrl)}, now '${configured.container}' at ${normaliseAccountUrl(configured.accountUrl)})`,
      400,
    );
  }
}

/**
 * The blob service URL a storage connection string points at (its `BlobEndpoint`, the development
 * storage, or the account's default endpoint); undefined when it names none.
 */
export function blobEndpointOfConnectionString(connectionString: string): string | undefined {
  const parts = new Map<string, string>();
  for (const segment of connectionString.split(';')) {
    const eq = segment.indexOf('=');
    if (eq > 0) parts.set(segment.slice(0, eq).trim().toLowerCase(), segment.slice(eq + 1).trim());
  }
  if (parts.get('usedevelopmentstorage')?.toLowerCase() === 'true')
    return 'http://127.0.0.1:10000/devstoreaccount1';
  const explicit = parts.get('blobendpoint');
  if (explicit) return explicit;
  const account = parts.get('accountname');
  if (!account) return undefined;
  const protocol = parts.get('defaultendpointsprotocol') ?? 'https';
  return `${protocol}://${account}.blob.${parts.get('endpointsuffix') ?? 'core.windows.net'}`;
}
