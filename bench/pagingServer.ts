/**
 * A benchmark fixture, not a product feature: a minimal FHIR R4 search endpoint that serves a
 * pre-serialised dataset from memory on 127.0.0.1, fast enough not to be the bottleneck.
 *
 *   GET /metadata                      CapabilityStatement listing the types (search-type)
 *   GET /{Type}?_count=N[&_offset=K]   searchset Bundle with `total` and a `next` link, limited by
 *       [&_lastUpdated=geX|gtX|leX|ltX]  any `_lastUpdated` bounds (entries are kept in
 *       [&_sort=_lastUpdated|-_lastUpdated]  `_lastUpdated` order; `-` serves them newest first);
 *                                      other parameters are accepted and ignored
 *   GET /{Type}?_summary=count         Bundle with `total` only (within the bounds)
 *   GET /_bench/ndjson/{Type}          the type's resources as NDJSON (for the write-limit run);
 *                                      `?since=…&before=…` for one time range of it
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type BenchDataset, type TypeData, entrySlice, firstEntryFrom, resourceText } from './dataset';

export interface PagingServer {
  baseUrl: string;
  /** Search pages served so far. */
  readonly pages: number;
  close(): Promise<void>;
}

const JSON_TYPE = 'application/fhir+json; charset=utf-8';

export async function startPagingServer(dataset: BenchDataset): Promise<PagingServer> {
  let baseUrl = '';
  let pages = 0;
  const capability = Buffer.from(
    JSON.stringify({
      resourceType: 'CapabilityStatement',
      status: 'active',
      kind: 'instance',
      fhirVersion: '4.0.1',
      format: ['json'],
      rest: [
        {
          mode: 'server',
          resource: [...dataset.types.keys()].map((type) => ({
            type,
            interaction: [{ code: 'search-type' }],
          })),
        },
      ],
    }),
  );

  const send = (res: http.ServerResponse, status: number, parts: Buffer[]) => {
    const length = parts.reduce((sum, p) => sum + p.length, 0);
    res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': length });
    for (let i = 0; i < parts.length - 1; i++) res.write(parts[i]);
    res.end(parts[parts.length - 1]);
  };
  const notFound = (res: http.ServerResponse, what: string) =>
    send(res, 404, [
      Buffer.from(
        JSON.stringify({
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'error', code: 'not-found', diagnostics: what }],
        }),
      ),
    ]);

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', baseUrl);
    const segments = url.pathname.split('/').filter(Boolean);
    if (req.method !== 'GET') return notFound(res, 'only GET is served');
    if (segments.length === 1 && segments[0] === 'metadata') return send(res, 200, [capability]);
    if (segments.length === 3 && segments[0] === '_bench' && segments[1] === 'ndjson') {
      const data = dataset.types.get(segments[2]);
      if (!data) return notFound(res, `no type ${segments[2]}`);
      // Optional `since` (inclusive) and `before` (exclusive) instants: one time range of the type.
      const since = url.searchParams.get('since');
      const before = url.searchParams.get('before');
      const from = since ? firstEntryFrom(data, Date.parse(since)) : 0;
      const to = before ? firstEntryFrom(data, Date.parse(before)) : data.count;
      res.writeHead(200, { 'content-type': 'application/fhir+ndjson' });
      void streamNdjson(res, data, from, to);
      return;
    }
    if (segments.length !== 1) return notFound(res, `unknown path ${url.pathname}`);
    const type = segments[0];
    const data = dataset.types.get(type);
    if (!data) return notFound(res, `no type ${type}`);
    // The `_lastUpdated` window as a run [from, to) of the type's time-ordered entries.
    let from = 0;
    let to = data.count;
    for (const value of url.searchParams.getAll('_lastUpdated')) {
      const ms = Date.parse(value.slice(2));
      const prefix = value.slice(0, 2);
      if (Number.isNaN(ms)) continue;
      if (prefix === 'ge') from = Math.max(from, firstEntryFrom(data, ms));
      if (prefix === 'gt') from = Math.max(from, firstEntryFrom(data, ms, true));
      if (prefix === 'lt') to = Math.min(to, firstEntryFrom(data, ms));
      if (prefix === 'le') to = Math.min(to, firstEntryFrom(data, ms, true));
    }
    const matches = Math.max(0, to - from);
    if (url.searchParams.get('_summary') === 'count') {
      return send(res, 200, [
        Buffer.from(JSON.stringify({ resourceType: 'Bundle', type: 'searchset', total: matches })),
      ]);
    }
    const count = Math.min(Math.max(Number(url.searchParams.get('_count') ?? 100) || 100, 1), 10_000);
    const offset = Math.max(Number(url.searchParams.get('_offset') ?? 0) || 0, 0);
    const end = Math.min(offset + count, matches);
    pages += 1;
    const links: { relation: string; url: string }[] = [{ relation: 'self', url: url.toString() }];
    if (end < matches) {
      const next = new URL(url);
      next.searchParams.set('_offset', String(end));
      links.push({ relation: 'next', url: next.toString() });
    }
    const newestFirst = url.searchParams.get('_sort') === '-_lastUpdated';
    const body =
      offset >= end
        ? Buffer.alloc(0)
        : newestFirst
          ? Buffer.from(
              Array.from({ length: end - offset }, (_, i) =>
                entrySlice(data, to - offset - i - 1, to - offset - i),
              )
                .map((b) => b.toString('utf8'))
                .join(','),
            )
          : entrySlice(data, from + offset, from + end);
    const head = Buffer.from(
      `{"resourceType":"Bundle","type":"searchset","total":${matches},"link":${JSON.stringify(links)},"entry":[`,
    );
    send(res, 200, [head, body, Buffer.from(']}')]);
  });
  server.keepAliveTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    baseUrl,
    get pages() {
      return pages;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Writes a type's NDJSON a thousand lines at a time, waiting for the socket to drain. */
async function streamNdjson(
  res: http.ServerResponse,
  data: TypeData,
  from: number,
  to: number,
): Promise<void> {
  const newline = Buffer.from('\n');
  for (let i = from; i < to; i += 1000) {
    const parts: Buffer[] = [];
    for (let j = i; j < Math.min(i + 1000, to); j++) parts.push(resourceText(data, j), newline);
    if (!res.write(Buffer.concat(parts))) await new Promise((resolve) => res.once('drain', resolve));
  }
  res.end();
}
