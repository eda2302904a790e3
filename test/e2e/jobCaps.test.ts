/**
 * The per-client and service-wide job caps under concurrent kick-offs, through real HTTP against the
 * app (AUTH_MODE=jwt, so that several clients can call at once): however many kick-offs arrive
 * together, exactly the cap is accepted, the rest get 429 with Retry-After and an OperationOutcome,
 * and the job store holds exactly that many active jobs. Cancelling frees the slots again.
 */
import { generateDataset } from '../../dev/demo/syntheticFhir';
import { getCosmosClient } from '../../src/jobs/cosmosClient';
import { createCosmosJobStore, type CosmosJobStore } from '../../src/jobs/cosmosJobStore';
import { AppProcess } from '../support/appProcess';
import {
  jwtAuthEnv,
  startLocalIdentityProvider,
  type LocalIdentityProvider,
} from '../support/localIdentityProvider';
import { GATED_SOURCE_APP_ENV, startGatedFhirSource, type GatedFhirSource } from '../support/gatedFhirSource';
import { testConnectionInfo } from '../support/testEnv';

const PER_CLIENT = 5;
const TOTAL = 20;
const KICKOFFS = 50;
interface Answer {
  client: string;
  status: number;
  headers: Headers;
  json?: Record<string, unknown>;
}

describe('job caps under concurrent kick-offs', () => {
  let idp: LocalIdentityProvider;
  let source: GatedFhirSource;
  let app: AppProcess;
  let base: string;
  let store: CosmosJobStore;
  const tokens = new Map<string, string>();

  const tokenFor = (client: string): string => {
    let token = tokens.get(client);
    if (!token) {
      token = idp.sign({ azp: client, sub: client, scope: 'system/*.read' }, { expiresInSeconds: 1800 });
      tokens.set(client, token);
    }
    return token;
  };

  /** A system kick-off; `fresh` asks for a new job even if an identical one runs (no reuse). */
  async function kickoff(client: string, fresh = true): Promise<Answer> {
    const response = await fetch(`${base}/$export?_type=Patient`, {
      headers: {
        Accept: 'application/fhir+json',
        Prefer: 'respond-async',
        Authorization: `Bearer ${tokenFor(client)}`,
        ...(fresh ? { 'Cache-Control': 'no-cache' } : {}),
      },
    });
    const text = await response.text();
    return {
      client,
      status: response.status,
      headers: response.headers,
      json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
    };
  }

  async function cancel(answer: Answer): Promise<void> {
    const response = await fetch(answer.headers.get('content-location') as string, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${tokenFor(answer.client)}` },
    });
    expect(response.status).toBe(202);
  }

  function expectRefused(answers: Answer[]): void {
    for (const answer of answers) {
      expect(answer.status).toBe(429);
      expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(answer.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
      expect(answer.json?.resourceType).toBe('OperationOutcome');
    }
  }

  /** Cancels `accepted` and waits until the store sees no active job left. */
  async function cancelAll(accepted: Answer[]): Promise<void> {
    for (const answer of accepted) await cancel(answer);
    expect(await store.countActiveJobs()).toBe(0);
  }

  beforeAll(async () => {
    idp = await startLocalIdentityProvider();
    // Every page search is held: the accepted jobs stay Running for the whole test.
    source = await startGatedFhirSource([...generateDataset({ patients: 3, seed: 5 })], { fastPages: 0 });
    app = new AppProcess({
      env: {
        ...jwtAuthEnv(idp),
        ...GATED_SOURCE_APP_ENV,
        SOURCE_KIND: 'fhir',
        FHIR_SOURCE_URL: source.baseUrl,
        EXPORT_RESOURCES_PER_PAGE: '2',
        EXPORT_TYPE_PARALLELISM: '1',
        EXPORT_KICKOFF_RATE_PER_MINUTE: '0',
        EXPORT_MAX_ACTIVE_JOBS_PER_CLIENT: String(PER_CLIENT),
        EXPORT_MAX_ACTIVE_JOBS: String(TOTAL),
      },
    });
    base = await app.start();
    const info = testConnectionInfo();
    store = await createCosmosJobStore({
      client: getCosmosClient({ endpoint: info.cosmosEndpoint, key: info.cosmosKey }),
      databaseId: app.database,
      containerId: 'jobs',
    });
  });
  afterAll(async () => {
    await app?.dispose();
    await source?.close();
    await idp?.close();
  });

  it(`given a per-client cap of ${PER_CLIENT}, when one client makes ${KICKOFFS} kick-offs at once, then exactly ${PER_CLIENT} are accepted and the rest get 429`, async () => {
    const answers = await Promise.all(Array.from({ length: KICKOFFS }, () => kickoff('solo')));
    const accepted = answers.filter((a) => a.status === 202);
    const counts = { accepted: accepted.length, refused: answers.length - accepted.length };
    expect(counts).toEqual({ accepted: PER_CLIENT, refused: KICKOFFS - PER_CLIENT });
    expectRefused(answers.filter((a) => a.status !== 202));
    expect(await store.countActiveJobs('solo')).toBe(PER_CLIENT);

    // At the cap, an identical request without no-cache is still answered with a running job.
    const reused = await kickoff('solo', false);
    expect(reused.status).toBe(202);
    expect(reused.json?.reused).toBe(true);

    await cancelAll(accepted);
    // The cancelled jobs' slots are free again.
    const again = await kickoff('solo');
    expect(again.status).toBe(202);
    await cancelAll([again]);
  });

  it(`given caps of ${PER_CLIENT} per client and ${TOTAL} in all, when 5 clients make ${KICKOFFS} kick-offs at once, then exactly ${TOTAL} are accepted, at most ${PER_CLIENT} per client`, async () => {
    const clients = ['c1', 'c2', 'c3', 'c4', 'c5'];
    const answers = await Promise.all(
      Array.from({ length: KICKOFFS }, (_, i) => kickoff(clients[i % clients.length])),
    );
    const accepted = answers.filter((a) => a.status === 202);
    const counts = { accepted: accepted.length, refused: answers.length - accepted.length };
    expect(counts).toEqual({ accepted: TOTAL, refused: KICKOFFS - TOTAL });
    expectRefused(answers.filter((a) => a.status !== 202));
    for (const client of clients) {
      expect(accepted.filter((a) => a.client === client).length).toBeLessThanOrEqual(PER_CLIENT);
      expect(await store.countActiveJobs(client)).toBeLessThanOrEqual(PER_CLIENT);
    }
    expect(await store.countActiveJobs()).toBe(TOTAL);

    await cancelAll(accepted);
    // Every slot is free again.
    const after = await kickoff('c1');
    expect(after.status).toBe(202);
    await cancelAll([after]);
  });
});
