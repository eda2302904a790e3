/**
 * Hostile requests that authenticate fine but abuse what the service echoes, the links it builds,
 * the host's own APIs and the edges of its validation: each against the compiled app with
 * AUTH_MODE=jwt, over real HTTP (issue #21, items 4 to 7).
 */
import * as http from 'node:http';
import { BulkDataClient } from '../../dev/client/bulkDataClient';
import { AppProcess } from '../support/appProcess';
import { countJobDocuments, jobIdOf, readJobRecord, replaceJobRecord } from '../support/e2eHelpers';
import { seedPatients } from '../support/exportFixtures';
import {
  jwtAuthEnv,
  startLocalIdentityProvider,
  type LocalIdentityProvider,
} from '../support/localIdentityProvider';
import { call as callApi, expectOutcome as outcomeOf, type Answer } from '../support/apiCalls';

const HOST_KEY = 'local-host-key-for-tests';
const PRINTABLE = /^[\x20-\x7e]*$/;

describe('security: request abuse against a running app (AUTH_MODE=jwt)', () => {
  let idp: LocalIdentityProvider;
  let app: AppProcess;
  let base: string;
  let origin: string;
  let token: string;

  beforeAll(async () => {
    idp = await startLocalIdentityProvider();
    app = new AppProcess({
      env: { ...jwtAuthEnv(idp), LOCAL_HOST_KEY: HOST_KEY, EXPORT_POLL_MIN_INTERVAL_MS: '0' },
    });
    await seedPatients(app, 1);
    base = await app.start();
    origin = new URL(base).origin;
    token = idp.sign({ azp: 'abuser', sub: 'abuser', scope: 'system/*.read' }, { expiresInSeconds: 1800 });
  });
  afterAll(async () => {
    await app.dispose();
    await idp.close();
  });

  const call = (url: string, init: Parameters<typeof callApi>[1] = {}): Promise<Answer> =>
    callApi(url, { token, ...init });

  function kickoff(query = '', prefer = 'respond-async'): Promise<Answer> {
    return call(`${base}/$export${query}`, { headers: { Accept: 'application/fhir+json', Prefer: prefer } });
  }

  /** Cancels an accepted kick-off, so that the client's job cap never fills. */
  async function accepted(answer: Answer): Promise<Record<string, unknown>> {
    expect(answer.status).toBe(202);
    const pollUrl = answer.headers.get('content-location') as string;
    expect((await call(pollUrl, { method: 'DELETE' })).status).toBe(202);
    return JSON.parse(answer.body) as Record<string, unknown>;
  }

  /** The diagnostics of an OperationOutcome answer with `status`. */
  function expectOutcome(answer: Answer, status: number): string {
    const outcome = outcomeOf(answer, status) as { issue: Array<{ diagnostics: string }> };
    return outcome.issue[0].diagnostics;
  }

  /** A request with a Host header of our choosing (fetch does not let a caller set it). */
  function withHost(url: string, host: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const target = new URL(url);
      const request = http.request(
        {
          host: target.hostname,
          port: target.port,
          path: `${target.pathname}${target.search}`,
          headers: {
            Host: host,
            Authorization: `Bearer ${token}`,
            Accept: 'application/fhir+json',
            Prefer: 'respond-async',
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
        },
      );
      request.on('error', reject);
      request.end();
    });
  }

  describe('client text in answers (item 4)', () => {
    it('given an unknown parameter named with 200 KiB and control characters, under lenient handling, then its warning is short and printable', async () => {
      const name = `${'n'.repeat(200 * 1024)}\u0000\u001b[31m\r\nforged log line`;
      const answer = await call(`${base}/$export`, {
        method: 'POST',
        headers: {
          Accept: 'application/fhir+json',
          Prefer: 'respond-async, handling=lenient',
          'Content-Type': 'application/fhir+json',
        },
        body: JSON.stringify({ resourceType: 'Parameters', parameter: [{ name, valueString: 'x' }] }),
      });
      const { warnings } = (await accepted(answer)) as { warnings: string[] };
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(PRINTABLE);
      expect(warnings[0].length).toBeLessThan(200);
    });

    it('given 500 unknown parameters under lenient handling, then 20 warnings are listed and one line counts the rest', async () => {
      const query = Array.from({ length: 500 }, (_, i) => `unknown${i}=1`).join('&');
      const { warnings } = (await accepted(
        await kickoff(`?${query}`, 'respond-async, handling=lenient'),
      )) as {
        warnings: string[];
      };
      expect(warnings).toHaveLength(21);
      expect(warnings[20]).toBe('480 more warnings are not listed.');
    });

    it('given a strict kick-off with a long control-character parameter, then the 400 names it clipped and printable', async () => {
      const diagnostics = expectOutcome(await kickoff(`?${'%1b'.repeat(2000)}=1`), 400);
      expect(diagnostics).toMatch(PRINTABLE);
      expect(diagnostics.length).toBeLessThan(200);
    });
  });

  describe('links built from the Host header (item 5)', () => {
    it('given a forged Host, when a kick-off is sent, then it answers 400 and no job is created', async () => {
      const before = await countJobDocuments(app);
      const answer = await withHost(`${base}/$export`, 'attacker.example');
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body).resourceType).toBe('OperationOutcome');
      expect(answer.body).not.toContain('attacker.example');
      expect(await countJobDocuments(app)).toBe(before);
    });

    it('given a malformed Host, then it answers 400 with an OperationOutcome, not a bare 500', async () => {
      const answer = await withHost(`${base}/$export`, '[');
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body).resourceType).toBe('OperationOutcome');
    });

    it('given a forged Host on the CapabilityStatement, then it answers 400 instead of linking elsewhere', async () => {
      const answer = await withHost(`${base}/metadata`, 'attacker.example:443');
      expect(answer.status).toBe(400);
      expect(answer.body).not.toContain('attacker.example');
    });
  });

  describe("the host's management and admin APIs (item 6)", () => {
    it('given a job, when its orchestration is asked for without the host key, then 401; with the key, its status', async () => {
      const answer = await kickoff();
      expect(answer.status).toBe(202);
      // The kick-off hands out no management links: the caller could not use them.
      expect(answer.body).not.toMatch(/statusQueryGetUri|runtime\/webhooks|code=/);
      const jobId = jobIdOf(answer.headers.get('content-location') as string);
      const instance = `${origin}/runtime/webhooks/durabletask/instances/${jobId}`;

      expect((await fetch(instance)).status).toBe(401);
      expect((await call(instance)).status).toBe(401); // a client's token is not the host key
      expect((await fetch(`${instance}?code=not-the-key`)).status).toBe(401);
      const status = await fetch(`${instance}?code=${HOST_KEY}`);
      // 202 while it runs, 200 once it ended: the status either way.
      expect([200, 202]).toContain(status.status);
      expect(((await status.json()) as { instanceId: string }).instanceId).toBe(jobId);
      expect([200, 202]).toContain(
        (await fetch(instance, { headers: { 'x-functions-key': HOST_KEY } })).status,
      );
      await accepted(answer);
    });

    it('given the admin API, when a timer function is run without the host key, then 401; with it, 202', async () => {
      const sweep = `${origin}/admin/functions/sweepJobs`;
      expect((await fetch(sweep, { method: 'POST' })).status).toBe(401);
      expect((await fetch(sweep, { method: 'POST', headers: { 'x-functions-key': HOST_KEY } })).status).toBe(
        202,
      );
    });
  });

  describe('edges of validation and limits (item 7)', () => {
    it.each(['2024-02-31T00:00:00Z', '2023-02-29T12:00:00Z', '2024-04-31T00:00:00+02:00'])(
      'given the impossible _since %s, then it answers 400',
      async (since) => {
        expectOutcome(await kickoff(`?_since=${encodeURIComponent(since)}`), 400);
      },
    );

    it('given a real leap day, then the kick-off is accepted', async () => {
      await accepted(await kickoff(`?_since=${encodeURIComponent('2024-02-29T00:00:00Z')}`));
    });

    it.each(['respond-async=false', 'respond-async, handling=maybe', 'respond-async, return=minimal'])(
      'given Prefer: %s, then it answers 400',
      async (prefer) => {
        expectOutcome(await kickoff('', prefer), 400);
      },
    );

    it('given an unknown preference under lenient handling, then it is ignored with a warning', async () => {
      const { warnings } = (await accepted(
        await kickoff('', 'respond-async, return=minimal, handling=lenient'),
      )) as { warnings: string[] };
      expect(warnings).toEqual(['Ignored Prefer return=minimal.']);
    });

    it('given a completed export past its expiry, when it is polled or deleted, then both answer 404', async () => {
      const client = new BulkDataClient(base, { token });
      const started = await client.kickoff('$export', { query: '_type=Patient' });
      const pollUrl = started.pollUrl as string;
      await client.waitForManifest(pollUrl, { maxIntervalMs: 500 });
      const record = await readJobRecord(app, jobIdOf(pollUrl));
      await replaceJobRecord(app, { ...record, expiresAt: new Date(Date.now() - 60_000).toISOString() });

      expectOutcome(await call(pollUrl), 404);
      expectOutcome(await call(pollUrl, { method: 'DELETE' }), 404);
      expect((await readJobRecord(app, record.jobId)).status).toBe('Completed');
    });
  });
});
