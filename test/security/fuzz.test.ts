/**
 * Hostile input against the compiled app (AUTH_MODE=jwt): thousands of generated kick-offs and other
 * API calls from a seeded PRNG. Every answer must be a 4xx OperationOutcome or a valid 202 (the
 * CapabilityStatement aside), never a 5xx, a hang or a crash; rejected requests leave no job record;
 * no answer echoes the bearer token, a storage or database key, or a stack trace.
 *
 *   FUZZ_SEED      the PRNG seed (default fixed, so a failure can be replayed)
 *   FUZZ_REQUESTS  how many requests (default 1500; `npm run fuzz` sends 20000)
 */
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { KNOWN_PARAMETERS } from '../../src/export/kickoffRequest';
import { getCosmosClient } from '../../src/jobs/cosmosClient';
import { AppProcess } from '../support/appProcess';
import { seedPatients } from '../support/exportFixtures';
import {
  jwtAuthEnv,
  startLocalIdentityProvider,
  type LocalIdentityProvider,
} from '../support/localIdentityProvider';
import { testConnectionInfo } from '../support/testEnv';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_f422);
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 1500);
const CONCURRENCY = 4;
const REQUEST_TIMEOUT_MS = 20_000;
const MAX_BODY = 64 * 1024;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** A V8 stack frame, or a path into the code, anywhere in an answer. */
const LEAK = /\bat [\w$.<>]+ \(|node_modules|[\\/]dist[\\/]|\.[jt]s:\d+:\d+/;

// ---------------------------------------------------------------------------------------------
// Seeded generation

/** mulberry32: small, fast, good enough to drive a fuzzer, and the same on every machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  constructor(readonly next: () => number) {}
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  /** Printable ASCII (no space), as path and query characters. */
  word(min = 1, max = 12): string {
    const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@";
    return Array.from({ length: this.int(min, max) }, () => this.pick([...chars])).join('');
  }
  /** Latin-1 characters: sent as single bytes, i.e. invalid UTF-8 on the wire. */
  latin1(min = 1, max = 8): string {
    return Array.from({ length: this.int(min, max) }, () => String.fromCharCode(this.int(0x80, 0xff))).join(
      '',
    );
  }
  /** Random bytes 0x80-0xff, each percent-encoded on its own: escapes of invalid UTF-8. */
  badUtf8(): string {
    return Array.from(
      { length: this.int(1, 8) },
      () => `%${this.int(0x80, 0xff).toString(16).toUpperCase()}`,
    ).join('');
  }
  /** Query-safe text, sometimes with bad escapes or escaped invalid UTF-8. */
  value(): string {
    switch (this.int(0, 9)) {
      case 0:
        return this.pick(['%', '%G1', '%zz', '%C3%28', '%E2%82', '%FF%FE', '%00', '%ED%A0%80', '%C0%AF']);
      case 1:
        return encodeURIComponent(this.latin1());
      case 2:
        return this.badUtf8();
      case 3:
        return '';
      case 4:
        return this.word(200, 2000);
      default:
        return encodeURIComponent(this.word());
    }
  }
}

const TYPES = [
  'Patient',
  'Observation',
  'Encounter',
  'Condition',
  'Group',
  'Practitioner',
  'MedicationRequest',
];
const NOT_TYPES = ['patient', 'Patients', 'NotAType', 'Binary ', 'OperationOutcome2', '*', 'Patient,', ',,'];

function instantLike(g: Gen): string {
  return g.pick([
    '2024-01-01T00:00:00Z',
    '2024-02-30T00:00:00Z',
    '2024-13-01T00:00:00Z',
    '2024-01-01',
    '2024-01-01T25:00:00Z',
    '2024-01-01T00:00:00+15:00',
    '9999-12-31T23:59:60Z',
    '0000-00-00T00:00:00Z',
    'yesterday',
    '2024-01-01T00:00:00.1234567890Z',
    `${g.int(1, 99999)}-01-01T00:00:00Z`,
    '',
  ]);
}

function typeFilter(g: Gen, giant: boolean): string {
  const one = () =>
    g.pick([
      `${g.pick(TYPES)}?status=${g.word()}`,
      `${g.pick(TYPES)}?_include=Patient:general-practitioner`,
      `${g.pick(TYPES)}?_count=5`,
      `${g.pick(TYPES)}?`,
      `${g.pick(TYPES)}?=x`,
      `NotAType?a=b`,
      `${g.word()}?${g.word()}=${g.word()}`,
      g.word(),
      `Observation?code=${g.word()},${g.word()}&date=ge2024`,
    ]);
  const count = giant ? g.int(100, 400) : g.int(1, 3);
  return Array.from({ length: count }, one).join(',');
}

const KNOWN = [...KNOWN_PARAMETERS];

/** One parameter as name/value (unencoded: callers encode for the query or put it in a body). */
function parameter(g: Gen): [string, string] {
  const name = g.chance(0.8)
    ? g.pick(KNOWN)
    : g.pick([g.word(), '_count', '_format', '', '__proto__', 'constructor']);
  switch (name) {
    case '_outputFormat':
      return [name, g.pick(['application/fhir+ndjson', 'ndjson', 'text/csv', g.word()])];
    case '_since':
    case '_until':
      return [name, instantLike(g)];
    case '_type':
      return [
        name,
        Array.from({ length: g.int(1, 4) }, () => (g.chance(0.7) ? g.pick(TYPES) : g.pick(NOT_TYPES))).join(
          ',',
        ),
      ];
    case '_typeFilter':
      return [name, typeFilter(g, false)];
    case '_elements':
      return [name, g.pick(['id', 'Patient.name', 'meta', 'Patient.name.given', '1abc', g.word()])];
    case 'includeAssociatedData':
      return [name, g.pick(['LatestProvenanceResources', g.word()])];
    case 'patient':
      return [
        name,
        g.pick(['Patient/p1', 'Patient/../x', 'Observation/1', `Patient/${g.word(65, 80)}`, g.word()]),
      ];
    case '_container':
      return [name, g.pick(['exports', 'AB', 'a--b', g.word(), 'x'.repeat(64)])];
    default:
      return [name, g.word()];
  }
}

interface FuzzRequest {
  method: string;
  path: string;
  headers: OutgoingHttpHeaders;
  body?: Buffer;
  /** A well-formed kick-off path (where a 202 can be right). */
  kickoffPath: boolean;
}

function kickoffQuery(g: Gen): string {
  const parts: string[] = [];
  for (let i = g.int(0, 5); i > 0; i--) {
    const [name, value] = parameter(g);
    parts.push(
      `${g.chance(0.9) ? encodeURIComponent(name) : g.value()}=${g.chance(0.8) ? encodeURIComponent(value) : g.value()}`,
    );
  }
  if (g.chance(0.05)) parts.push(`_typeFilter=${encodeURIComponent(typeFilter(g, false)).slice(0, 9000)}`);
  if (g.chance(0.05)) parts.push(...Array(g.int(2, 50)).fill(`_type=${g.pick(TYPES)}`));
  if (g.chance(0.03)) parts.push(g.value());
  return parts.length ? `?${parts.join('&')}` : '';
}

function parametersBody(g: Gen): unknown {
  const entries: unknown[] = Array.from({ length: g.int(0, 6) }, () => {
    const [name, value] = parameter(g);
    const valueKey = g.pick([
      'valueString',
      'valueString',
      'valueInstant',
      'valueReference',
      'valueInteger',
      'valueCode',
      'value',
    ]);
    if (valueKey === 'valueReference')
      return { name, valueReference: g.chance(0.8) ? { reference: value } : value };
    if (valueKey === 'valueInteger') return { name, valueInteger: g.int(-5, 5) };
    return g.chance(0.9) ? { name, [valueKey]: value } : g.pick([{ value }, null, 7, [name], { name: 5 }]);
  });
  if (g.chance(0.05)) entries.push({ name: '_typeFilter', valueString: typeFilter(g, true) });
  return { resourceType: 'Parameters', parameter: entries };
}

function body(g: Gen): { bytes: Buffer; contentType?: string } {
  const fhir = 'application/fhir+json';
  switch (g.int(0, 13)) {
    case 0:
      return { bytes: Buffer.alloc(0), contentType: g.pick([fhir, undefined]) };
    case 1:
      return { bytes: Buffer.from('{"resourceType":"Parameters","parameter":['), contentType: fhir };
    case 2:
      return { bytes: Buffer.from(JSON.stringify({ resourceType: 'Patient', id: 'x' })), contentType: fhir };
    case 3:
      return { bytes: Buffer.from(JSON.stringify([{ resourceType: 'Parameters' }])), contentType: fhir };
    case 4:
      return { bytes: Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0xff, 0xfe, 0x22, 0x7d]), contentType: fhir };
    case 5:
      return { bytes: Buffer.from(`${'['.repeat(5000)}${']'.repeat(5000)}`), contentType: fhir };
    case 6:
      return { bytes: Buffer.alloc(MAX_BODY + g.int(1, 40_000), 0x20), contentType: fhir };
    case 7:
      return { bytes: Buffer.from('_type=Patient'), contentType: 'application/x-www-form-urlencoded' };
    case 8:
      return {
        bytes: Buffer.from(JSON.stringify({ resourceType: 'Parameters', parameter: { name: '_type' } })),
        contentType: fhir,
      };
    case 9:
      return {
        bytes: Buffer.from(JSON.stringify(parametersBody(g))),
        contentType: g.pick(['text/plain', 'application/xml', g.word(), `${fhir}; charset=latin1`]),
      };
    case 10:
      return { bytes: Buffer.from('null'), contentType: 'application/json' };
    default:
      return {
        bytes: Buffer.from(JSON.stringify(parametersBody(g))),
        contentType: g.pick([fhir, fhir, 'application/json', `${fhir};charset=utf-8`]),
      };
  }
}

function otherPath(g: Gen): string {
  const uuid = '3f1d6a3e-6c1b-4f7e-9a55-0c2d7f1e9b10';
  return g.pick([
    `/api/_operations/export/${g.value()}`,
    `/api/_operations/export/${uuid}`,
    `/api/_operations/export/${uuid}/files/..%2F..%2F${g.word()}`,
    `/api/_operations/export/${uuid}/files/${g.value()}`,
    `/api/_operations/export/..%2f${uuid}`,
    `/api/${g.word()}/${g.value()}`,
    `/api/${g.badUtf8()}`,
    '/api/%zz/$export',
    '/api/Group/%2e%2e%2F/$export',
    `/api/Group/${g.value()}/$export`,
    `/api/Group/${g.word(65, 70)}/$export`,
    '/api/Patient/$export/extra',
    '/api/metadata',
    '/api',
    '/api/',
    `/api/Observation/$export`,
  ]);
}

function fuzzRequest(index: number, token: string, foreignToken: string): FuzzRequest {
  const g = new Gen(prng(SEED ^ Math.imul(index + 1, 0x9e3779b1)));
  const roll = g.next();
  let method = g.chance(0.85)
    ? g.pick(['GET', 'POST'])
    : g.pick(['PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);
  let path: string;
  let kickoffPath = false;
  if (roll < 0.85) {
    path = `/api/${g.pick(['$export', '$export', 'Patient/$export', 'Group/demo-cohort/$export', 'group/demo-cohort/$EXPORT'])}`;
    kickoffPath = true;
    path += kickoffQuery(g);
  } else {
    path = otherPath(g);
    if (g.chance(0.5)) method = g.pick(['GET', 'DELETE']);
  }

  const headers: OutgoingHttpHeaders = {};
  const auth = g.next();
  if (auth < 0.8) headers.authorization = `Bearer ${token}`;
  else if (auth < 0.85) headers.authorization = `Bearer ${foreignToken}`;
  else if (auth < 0.9)
    headers.authorization = g.pick([
      `Basic ${g.word()}`,
      `Bearer ${g.word(1, 300)}`,
      'Bearer',
      `Bearer ${token} ${token}`,
      g.latin1(),
    ]);
  else if (auth < 0.93) headers.authorization = [`Bearer ${token}`, `Bearer ${token}`] as unknown as string; // sent twice
  if (g.chance(0.9))
    headers.accept = g.chance(0.85)
      ? 'application/fhir+json'
      : g.pick(['*/*', 'application/json', 'text/html', g.latin1(), g.word()]);
  if (g.chance(0.9)) {
    headers.prefer = g.chance(0.8)
      ? g.pick(['respond-async', 'respond-async, handling=lenient', 'handling=lenient; respond-async'])
      : g.pick(['respond-sync', '', g.word(), g.latin1(), 'respond-async'.repeat(200)]);
  }
  if (g.chance(0.1)) headers['cache-control'] = 'no-cache';
  if (g.chance(0.15)) {
    // Huge and repeated junk headers (within the HTTP server's 16 KB header limit).
    headers[
      `x-${g
        .word(1, 20)
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, 'a')}`
    ] = g.chance(0.5) ? 'y'.repeat(g.int(1000, 9000)) : Array.from({ length: g.int(2, 40) }, () => g.word());
  }
  if (g.chance(0.05)) headers['x-latin1'] = g.latin1(10, 200);

  let payload: Buffer | undefined;
  if (method === 'POST' || (method !== 'GET' && method !== 'HEAD' && g.chance(0.3))) {
    const generated = body(g);
    payload = generated.bytes;
    if (generated.contentType) headers['content-type'] = generated.contentType;
    headers['content-length'] = String(payload.length);
  }
  return { method, path, headers, body: payload, kickoffPath };
}

// ---------------------------------------------------------------------------------------------
// Transport

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(origin: URL, req: FuzzRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        host: origin.hostname,
        port: origin.port,
        method: req.method,
        path: req.path,
        headers: req.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    outgoing.setTimeout(REQUEST_TIMEOUT_MS, () =>
      outgoing.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms (hang)`)),
    );
    outgoing.on('error', reject);
    outgoing.end(req.body);
  });
}

function describeRequest(index: number, req: FuzzRequest): string {
  const headers = { ...req.headers, authorization: req.headers.authorization ? '<redacted>' : undefined };
  return `#${index} (FUZZ_SEED=${SEED}) ${req.method} ${req.path.slice(0, 300)} headers=${JSON.stringify(headers).slice(0, 400)} body=${req.body?.subarray(0, 200).toString('latin1') ?? '-'}`;
}

// ---------------------------------------------------------------------------------------------

describe(`security fuzz: ${REQUESTS} generated requests (FUZZ_SEED=${SEED})`, () => {
  let idp: LocalIdentityProvider;
  let app: AppProcess;
  let origin: URL;
  let token: string;
  let foreignToken: string;

  beforeAll(async () => {
    idp = await startLocalIdentityProvider();
    app = new AppProcess({
      env: {
        ...jwtAuthEnv(idp),
        MAX_REQUEST_BODY_BYTES: String(MAX_BODY),
        // Accepted kick-offs are cancelled at once; the active-job caps answer 429, which is fine.
        EXPORT_KICKOFF_RATE_PER_MINUTE: '0',
        EXPORT_MAX_ACTIVE_JOBS_PER_CLIENT: '4',
        EXPORT_MAX_ACTIVE_JOBS: '8',
      },
    });
    await seedPatients(app, 1);
    const base = await app.start();
    origin = new URL(base);
    token = idp.sign({ azp: 'fuzz-client', sub: 'fuzz-client' }, { expiresInSeconds: 4 * 3600 });
    foreignToken = idp.sign(
      { azp: 'other-client', sub: 'other-client', scope: 'system/Patient.read' },
      { expiresInSeconds: 4 * 3600 },
    );
  });
  afterAll(async () => {
    await app?.dispose();
    await idp?.close();
  });

  it(
    'answers every request with a 4xx OperationOutcome or a valid 202, leaks nothing, and stays up',
    async () => {
      const info = testConnectionInfo();
      const secrets = [
        token,
        foreignToken,
        info.cosmosKey,
        /AccountKey=([^;]+)/.exec(info.storageConnectionString)?.[1] ?? '',
      ].filter((s) => s.length >= 16);
      const failures: string[] = [];
      const statuses = new Map<number, number>();
      const acceptedJobs = new Set<string>();
      let accepted = 0;
      let next = 0;

      const check = async (index: number, req: FuzzRequest, answer: Answer): Promise<void> => {
        const fail = (why: string) =>
          failures.push(
            `${why}: ${describeRequest(index, req)} -> ${answer.status} ${answer.body.slice(0, 300)}`,
          );
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        const everything = `${JSON.stringify(answer.headers)}\n${answer.body}`;
        for (const secret of secrets) if (everything.includes(secret)) fail('secret echoed');
        if (LEAK.test(answer.body)) fail('stack trace or file path in the answer');
        const contentType = String(answer.headers['content-type'] ?? '');

        if (answer.status === 202 && req.kickoffPath && (req.method === 'GET' || req.method === 'POST')) {
          const location = String(answer.headers['content-location'] ?? '');
          const jobId = location.slice(location.lastIndexOf('/') + 1);
          if (!location.startsWith(`${origin.origin}/api/_operations/export/`) || !UUID_V4.test(jobId))
            fail('202 without a UUID v4 poll URL');
          let parsed: { jobId?: unknown } = {};
          try {
            parsed = JSON.parse(answer.body) as { jobId?: unknown };
          } catch {
            fail('202 body is not JSON');
          }
          if (parsed.jobId !== jobId) fail('202 body names another job');
          if (/runtime\/webhooks/.test(answer.body)) fail('202 body hands out durable management URLs');
          accepted += 1;
          acceptedJobs.add(jobId);
          // Cancel at once: keeps the load down and exercises cancel.
          const cancel = await send(origin, {
            method: 'DELETE',
            path: `/api/_operations/export/${jobId}`,
            headers: { authorization: `Bearer ${token}` },
            kickoffPath: false,
          });
          if (cancel.status !== 202 && cancel.status !== 404) fail(`cancel answered ${cancel.status}`);
          return;
        }
        if (answer.status === 200 && req.method === 'GET' && /^\/api\/metadata\/?$/i.test(req.path)) return;
        if (answer.status < 400 || answer.status > 499) {
          fail('not a 4xx');
          return;
        }
        if (!contentType.startsWith('application/fhir+json'))
          fail(`4xx with Content-Type ${contentType || '(none)'}`);
        if (answer.status === 401 && !answer.headers['www-authenticate'])
          fail('401 without WWW-Authenticate');
        if (answer.status === 429 && !/^\d+$/.test(String(answer.headers['retry-after'] ?? '')))
          fail('429 without Retry-After');
        if (req.method === 'HEAD') return;
        try {
          const outcome = JSON.parse(answer.body) as { resourceType?: unknown; issue?: unknown };
          if (
            outcome.resourceType !== 'OperationOutcome' ||
            !Array.isArray(outcome.issue) ||
            outcome.issue.length === 0
          ) {
            fail('4xx body is not an OperationOutcome');
          }
        } catch {
          fail('4xx body is not JSON');
        }
      };

      const worker = async (): Promise<void> => {
        while (next < REQUESTS && failures.length < 20) {
          const index = next++;
          const req = fuzzRequest(index, token, foreignToken);
          let answer: Answer;
          try {
            answer = await send(origin, req);
          } catch (error) {
            failures.push(`${(error as Error).message}: ${describeRequest(index, req)}`);
            continue;
          }
          await check(index, req, answer);
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));

      // Still alive and still answering.
      expect(app.pid).toBeDefined();
      expect(() => process.kill(app.pid as number, 0)).not.toThrow();
      const metadata = await send(origin, {
        method: 'GET',
        path: '/api/metadata',
        headers: {},
        kickoffPath: false,
      });
      expect(metadata.status).toBe(200);

      // A job record exists for each accepted kick-off and for nothing else.
      const info2 = testConnectionInfo();
      const cosmos = getCosmosClient({ endpoint: info2.cosmosEndpoint, key: info2.cosmosKey });
      const { resources } = await cosmos
        .database(app.database)
        .container('jobs')
        .items.query<string>("SELECT VALUE c.jobId FROM c WHERE c.docType = 'job'")
        .fetchAll();
      const stored = new Set(resources);

      const summary = [...statuses]
        .sort(([a], [b]) => a - b)
        .map(([s, n]) => `${s}: ${n}`)
        .join(', ');
      console.log(
        `fuzz seed ${SEED}: ${REQUESTS} requests; ${accepted} accepted (${acceptedJobs.size} jobs); ${summary}`,
      );
      expect(failures).toEqual([]);
      expect([...stored].sort()).toEqual([...acceptedJobs].sort());
      expect(app.output).not.toMatch(/HTTP host error/);
    },
    // A guard against a hang, not a speed limit: a loaded machine may take several times longer.
    Math.max(600_000, REQUESTS * 400),
  );

  it('given requests the HTTP server itself refuses (raw non-ASCII URL, oversized headers), then it answers 4xx and stays up', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const cases: FuzzRequest[] = [
      { method: 'GET', path: '/api/$export?_type=Pati\u00e9nt', headers: auth, kickoffPath: true },
      { method: 'GET', path: '/api/\u00ff\u00fe/$export', headers: auth, kickoffPath: false },
      {
        method: 'GET',
        path: '/api/$export',
        headers: { ...auth, 'x-huge': 'h'.repeat(20_000) },
        kickoffPath: true,
      },
      {
        method: 'GET',
        path: `/api/$export?_typeFilter=${'Patient%3Factive%3Dtrue,'.repeat(1000)}`,
        headers: auth,
        kickoffPath: true,
      },
    ];
    for (const req of cases) {
      const answer = await send(origin, req);
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(answer.status).toBeLessThan(500);
    }
    expect(() => process.kill(app.pid as number, 0)).not.toThrow();
    expect(
      (await send(origin, { method: 'GET', path: '/api/metadata', headers: {}, kickoffPath: false })).status,
    ).toBe(200);
  });
});
