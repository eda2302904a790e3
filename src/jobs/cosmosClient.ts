/**
 * One `CosmosClient` per endpoint and authentication, reused for the life of the process, plus
 * idempotent creation of databases and containers.
 *
 * Authentication: an account key (directly or from a connection string) when one is configured,
 * otherwise a Microsoft Entra token credential (`DefaultAzureCredential` unless one is given).
 * TLS: certificate checks are relaxed only for a loopback endpoint (the local emulator's certificate
 * is self-signed and expired); every other host gets the default, verifying agent.
 */
import { Container, CosmosClient, Database, PartitionKeyDefinition } from '@azure/cosmos';
import { DefaultAzureCredential, TokenCredential } from '@azure/identity';
import * as https from 'node:https';
import { isLoopbackEndpoint } from '../util/loopback';

export interface CosmosSettings {
  /** Account endpoint, e.g. `https://acct.documents.azure.com:443/`. Optional with a connection string. */
  endpoint?: string;
  /** Account key; when neither key nor connection string is set, a token credential is used. */
  key?: string;
  /** `AccountEndpoint=...;AccountKey=...;` */
  connectionString?: string;
  /** Token credential to use instead of `DefaultAzureCredential` when no key is configured. */
  credential?: TokenCredential;
}

/** Parses a Cosmos DB connection string (`AccountEndpoint=…;AccountKey=…;`). */
export function parseCosmosConnectionString(connectionString: string): { endpoint: string; key: string } {
  const parts = new Map<string, string>();
  for (const segment of connectionString.split(';')) {
    const eq = segment.indexOf('=');
    if (eq > 0) parts.set(segment.slice(0, eq).trim().toLowerCase(), segment.slice(eq + 1).trim());
  }
  const endpoint = parts.get('accountendpoint');
  const key = parts.get('accountkey');
  if (!endpoint || !key) throw new Error('Cosmos DB connection string needs AccountEndpoint and AccountKey');
  return { endpoint, key };
}

interface ResolvedSettings {
  endpoint: string;
  key?: string;
  credential?: TokenCredential;
}

function resolveSettings(settings: CosmosSettings): ResolvedSettings {
  if (settings.connectionString) return parseCosmosConnectionString(settings.connectionString);
  if (!settings.endpoint) throw new Error('Cosmos DB settings need an endpoint or a connection string');
  if (settings.key) return { endpoint: settings.endpoint, key: settings.key };
  return { endpoint: settings.endpoint, credential: settings.credential };
}

const clients = new Map<string, CosmosClient>();
let loopbackAgent: https.Agent | undefined;

function defaultCredential(): TokenCredential {
  return new DefaultAzureCredential();
}

/** The shared client for these settings; created on first use. */
export function getCosmosClient(settings: CosmosSettings): CosmosClient {
  const resolved = resolveSettings(settings);
  const cacheKey = `${resolved.endpoint}|${resolved.key ? `key:${resolved.key}` : 'aad'}`;
  let client = clients.get(cacheKey);
  if (client) return client;
  const loopback = isLoopbackEndpoint(resolved.endpoint);
  if (loopback) loopbackAgent ??= new https.Agent({ rejectUnauthorized: false, keepAlive: true });
  client = new CosmosClient({
    endpoint: resolved.endpoint,
    ...(resolved.key
      ? { key: resolved.key }
      : { aadCredentials: resolved.credential ?? defaultCredential() }),
    ...(loopback ? { agent: loopbackAgent, connectionPolicy: { enableEndpointDiscovery: false } } : {}),
  });
  clients.set(cacheKey, client);
  return client;
}

/** Disposes every cached client (tests, shutdown). */
export function disposeCosmosClients(): void {
  for (const client of clients.values()) client.dispose();
  clients.clear();
  loopbackAgent?.destroy();
  loopbackAgent = undefined;
}

const ensured = new Map<string, Promise<unknown>>();

function once<T>(key: string, create: () => Promise<T>): Promise<T> {
  let pending = ensured.get(key) as Promise<T> | undefined;
  if (!pending) {
    pending = create();
    ensured.set(key, pending);
    // A failed attempt is forgotten so the next call tries again.
    pending.catch(() => ensured.delete(key));
  }
  return pending;
}

/** Creates the database if missing (once per process and client). */
export function ensureDatabase(client: CosmosClient, databaseId: string): Promise<Database> {
  return once(`${clientId(client)}|${databaseId}`, async () => {
    const { database } = await client.databases.createIfNotExists({ id: databaseId });
    return database;
  });
}

/**
 * Creates the database and container if missing; `partitionKeyPath` like `/jobId`, `defaultTtl` as
 * Cosmos DB defines it (-1: TTL on, items expire only by their own `ttl`).
 */
export function ensureContainer(
  client: CosmosClient,
  databaseId: string,
  containerId: string,
  partitionKeyPath: string,
  options: { defaultTtl?: number } = {},
): Promise<Container> {
  return once(`${clientId(client)}|${databaseId}|${containerId}`, async () => {
    const database = await ensureDatabase(client, databaseId);
    const partitionKey: PartitionKeyDefinition = { paths: [partitionKeyPath] };
    const { container } = await database.containers.createIfNotExists({
      id: containerId,
      partitionKey,
      ...(options.defaultTtl !== undefined ? { defaultTtl: options.defaultTtl } : {}),
    });
    return container;
  });
}

const clientIds = new WeakMap<CosmosClient, number>();
let nextClientId = 1;
function clientId(client: CosmosClient): number {
  let id = clientIds.get(client);
  if (id === undefined) {
    id = nextClientId++;
    clientIds.set(client, id);
  }
  return id;
}
