/** What every Cosmos DB adapter here needs of a document or an SDK error. */
import type { Container } from '@azure/cosmos';

/** Properties Cosmos DB adds to every stored document. */
export const COSMOS_SYSTEM_PROPERTIES = ['_rid', '_self', '_etag', '_attachments', '_ts', '_lsn'] as const;

/** A copy of `doc` without the system properties; `keepEtag` keeps `_etag` (for If-Match). */
export function withoutSystemProperties<T extends object>(doc: T, keepEtag = false): T {
  const copy: Record<string, unknown> = { ...(doc as Record<string, unknown>) };
  for (const p of COSMOS_SYSTEM_PROPERTIES) {
    if (p === '_etag' && keepEtag) continue;
    delete copy[p];
  }
  return copy as T;
}

/** The HTTP status of a Cosmos SDK error (`code` when numeric, else `statusCode`), if any. */
export function cosmosStatusOf(err: unknown): number | undefined {
  const e = (err ?? {}) as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'number') return e.code;
  return typeof e.statusCode === 'number' ? e.statusCode : undefined;
}

/** The document `id` of `partitionKey` with its etag, or undefined when there is none (404). */
export async function readDocument<T extends object>(
  container: Container,
  id: string,
  partitionKey: string,
): Promise<T | undefined> {
  try {
    const { resource } = await container.item(id, partitionKey).read<T>();
    return resource ? withoutSystemProperties(resource, true) : undefined;
  } catch (err) {
    if (cosmosStatusOf(err) === 404) return undefined;
    throw err;
  }
}

/** Deletes document `id` of `partitionKey`; one that is gone already is no error. */
export async function deleteDocument(container: Container, id: string, partitionKey: string): Promise<void> {
  try {
    await container.item(id, partitionKey).delete();
  } catch (err) {
    if (cosmosStatusOf(err) !== 404) throw err;
  }
}
