import { CosmosClient } from '@azure/cosmos';
import { BadRequestError } from '../../../src/export/errors';
import { disposeCosmosClients, getCosmosClient } from '../../../src/jobs/cosmosClient';
import { createCosmosResourceWriter, FhirResource } from '../../../dev/demo/cosmosResourceWriter';
import { CosmosSearchSource, createCosmosSearchSource } from '../../../src/sources/cosmosSource';
import { lineText, type SearchParameters } from '../../../src/sources/searchSource';
import { testConnectionInfo, uniqueName } from '../../support/testEnv';

const databaseId = uniqueName('cosmossource');
const containerId = 'resources';
const UNTIL = '2030-01-01T00:00:00.000Z';
const PATIENTS = 30;
const OBS_PER_PATIENT = 10;

let client: CosmosClient;
let source: CosmosSearchSource;

function instant(i: number): string {
  // Distinct minutes from 2024-01-01, several resources sharing some instants.
  return new Date(Date.UTC(2024, 0, 1) + Math.floor(i / 3) * 60_000).toISOString();
}

function dataset(): FhirResource[] {
  const resources: FhirResource[] = [];
  for (let p = 0; p < PATIENTS; p++) {
    resources.push({
      resourceType: 'Patient',
      id: `pat-${p}`,
      meta: { lastUpdated: instant(p) },
      active: true,
    });
    for (let o = 0; o < OBS_PER_PATIENT; o++) {
      const n = p * OBS_PER_PATIENT + o;
      resources.push({
        resourceType: 'Observation',
        id: `obs-${n}`,
        meta: { lastUpdated: instant(n) },
        status: n % 2 === 0 ? 'final' : 'amended',
        code: { coding: [{ system: 'http://loinc.org', code: n % 5 === 0 ? '8867-4' : '9279-1' }] },
        subject: { reference: `Patient/pat-${p}` },
      });
    }
  }
  resources.push({
    resourceType: 'Immunization',
    id: 'imm-1',
    meta: { lastUpdated: instant(1) },
    status: 'completed',
    patient: { reference: 'Patient/pat-1' },
    vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '140' }] },
  });
  resources.push({
    resourceType: 'Immunization',
    id: 'imm-2',
    meta: { lastUpdated: instant(2) },
    status: 'completed',
    patient: { reference: 'Patient/pat-2' },
    vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] },
  });
  resources.push({
    resourceType: 'Procedure',
    id: 'proc-1',
    meta: { lastUpdated: instant(1) },
    status: 'completed',
    code: { coding: [{ code: 'abc' }] },
  });
  resources.push({
    resourceType: 'Procedure',
    id: 'proc-2',
    meta: { lastUpdated: instant(1) },
    status: 'completed',
    code: { coding: [{ system: 'http://snomed.info/sct', code: 'abc' }] },
  });
  // Written with a non-canonical timestamp; the writer normalises it.
  resources.push({
    resourceType: 'Condition',
    id: 'cond-1',
    meta: { lastUpdated: '2024-01-01T01:00:00+01:00' },
    subject: { reference: 'Patient/pat-0' },
  });
  return resources;
}

function params(overrides: Partial<SearchParameters> = {}): SearchParameters {
  return { until: UNTIL, typeFilters: [], count: 50, ...overrides };
}

async function searchAll(
  src: CosmosSearchSource,
  type: string,
  p: SearchParameters,
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await src.search(type, p, token);
    out.push(...page.resources.map((r) => JSON.parse(lineText(r)) as Record<string, unknown>));
    token = page.nextToken;
    if (++pages > 1000) throw new Error('paging does not end');
  } while (token);
  return out;
}

beforeAll(async () => {
  const { cosmosEndpoint, cosmosKey } = testConnectionInfo();
  client = getCosmosClient({ endpoint: cosmosEndpoint, key: cosmosKey });
  const writer = await createCosmosResourceWriter(client, databaseId, containerId, {
    batchSize: 100,
    concurrency: 3,
  });
  const result = await writer.upsertAll(dataset());
  expect(result.failed).toEqual([]);
  source = await createCosmosSearchSource(client, databaseId, containerId, {
    knownResourceTypes: ['Patient', 'Observation', 'Immunization', 'Condition', 'Encounter', 'Procedure'],
  });
});

afterAll(async () => {
  await client
    .database(databaseId)
    .delete()
    .catch(() => undefined);
  disposeCosmosClients();
});

describe('CosmosSearchSource', () => {
  test('pages through a few hundred resources with continuation tokens, each exactly once, without system fields', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await source.search('Observation', params({ count: 37 }), token);
      expect(page.resources.length).toBeLessThanOrEqual(37);
      for (const line of page.resources) {
        const r = JSON.parse(lineText(line)) as Record<string, unknown>;
        for (const sys of ['_rid', '_self', '_etag', '_attachments', '_ts'])
          expect(r).not.toHaveProperty(sys);
        expect(r.resourceType).toBe('Observation');
        seen.push(r.id as string);
      }
      token = page.nextToken;
      pages++;
    } while (token);
    expect(seen).toHaveLength(PATIENTS * OBS_PER_PATIENT);
    expect(new Set(seen).size).toBe(seen.length);
    expect(pages).toBe(Math.ceil((PATIENTS * OBS_PER_PATIENT) / 37));
  });

  test('given a saved token, a fresh source instance resumes where the first stopped', async () => {
    const first = await source.search('Observation', params({ count: 40 }));
    expect(first.nextToken).toBeDefined();
    const fresh = new CosmosSearchSource(client.database(databaseId).container(containerId));
    const rest: string[] = [];
    let token = first.nextToken;
    while (token) {
      const page = await fresh.search('Observation', params({ count: 40 }), token);
      rest.push(...page.resources.map((r) => (JSON.parse(lineText(r)) as { id: string }).id));
      token = page.nextToken;
    }
    const firstIds = first.resources.map((r) => (JSON.parse(lineText(r)) as { id: string }).id);
    const all = [...firstIds, ...rest];
    expect(all).toHaveLength(PATIENTS * OBS_PER_PATIENT);
    expect(new Set(all).size).toBe(all.length);
  });

  test('the returned JSON is the stored resource', async () => {
    const page = await source.search('Patient', params({ typeFilters: ['_id=pat-3'] }));
    expect(JSON.parse(lineText(page.resources[0]))).toEqual({
      resourceType: 'Patient',
      id: 'pat-3',
      meta: { lastUpdated: instant(3) },
      active: true,
    });
  });

  test('since/until select the _lastUpdated window, both bounds inclusive', async () => {
    const since = instant(30); // obs-30..32 share this minute
    const until = instant(59); // obs-57..59
    const found = await searchAll(source, 'Observation', params({ since, until }));
    const ids = found.map((r) => Number(String(r.id).slice(4))).sort((a, b) => a - b);
    expect(ids).toEqual(Array.from({ length: 30 }, (_, i) => 30 + i));
    for (const r of found) {
      const lu = (r.meta as { lastUpdated: string }).lastUpdated;
      expect(lu >= since && lu <= until).toBe(true);
    }
    // Bounds in another offset are normalised before comparing.
    const cond = await searchAll(
      source,
      'Condition',
      params({ since: '2024-01-01T00:00:00Z', until: '2024-01-01T00:00:00.000Z' }),
    );
    expect(cond.map((r) => r.id)).toEqual(['cond-1']);
  });

  test('the patient compartment restricts Patient by id and other types by their reference', async () => {
    const patients = ['Patient/pat-1', 'Patient/pat-2'];
    const pats = await searchAll(source, 'Patient', params({ patients }));
    expect(pats.map((r) => r.id).sort()).toEqual(['pat-1', 'pat-2']);
    const obs = await searchAll(source, 'Observation', params({ patients }));
    expect(obs).toHaveLength(2 * OBS_PER_PATIENT);
    expect(new Set(obs.map((r) => (r.subject as { reference: string }).reference))).toEqual(
      new Set(patients),
    );
    const imm = await searchAll(source, 'Immunization', params({ patients: ['Patient/pat-2'] }));
    expect(imm.map((r) => r.id)).toEqual(['imm-2']);
    expect(await searchAll(source, 'Condition', params({ patients: ['Patient/pat-9'] }))).toEqual([]);
  });

  test('the _typeFilter subset: status, code with and without system, alternatives, AND and OR', async () => {
    const finals = await searchAll(source, 'Observation', params({ typeFilters: ['status=final'] }));
    expect(finals).toHaveLength(150);
    expect(finals.every((r) => r.status === 'final')).toBe(true);

    const hr = await searchAll(
      source,
      'Observation',
      params({ typeFilters: ['code=http://loinc.org|8867-4'] }),
    );
    expect(hr).toHaveLength(60);
    expect(await searchAll(source, 'Observation', params({ typeFilters: ['code=8867-4'] }))).toHaveLength(60);
    expect(
      await searchAll(source, 'Observation', params({ typeFilters: ['code=http://snomed.info/sct|8867-4'] })),
    ).toHaveLength(0);
    expect(
      await searchAll(
        source,
        'Observation',
        params({ typeFilters: ['code=http%3A%2F%2Floinc.org%7C8867-4'] }),
      ),
    ).toHaveLength(60);

    // n % 5 == 0 and n even → n % 10 == 0: 30 resources.
    const both = await searchAll(
      source,
      'Observation',
      params({ typeFilters: ['status=final&code=http://loinc.org|8867-4'] }),
    );
    expect(both).toHaveLength(30);
    // OR across filters: 150 final + 30 amended with code 8867-4.
    const either = await searchAll(
      source,
      'Observation',
      params({ typeFilters: ['status=final', 'code=8867-4'] }),
    );
    expect(either).toHaveLength(180);
    expect(
      await searchAll(source, 'Observation', params({ typeFilters: ['status=final,amended'] })),
    ).toHaveLength(300);

    const vacc = await searchAll(
      source,
      'Immunization',
      params({ typeFilters: ['vaccine-code=http://hl7.org/fhir/sid/cvx|208'] }),
    );
    expect(vacc.map((r) => r.id)).toEqual(['imm-2']);

    // `system|` means any code of the system.
    expect(
      (await searchAll(source, 'Procedure', params({ typeFilters: ['code=http://snomed.info/sct|'] }))).map(
        (r) => r.id,
      ),
    ).toEqual(['proc-2']);
    expect(
      (await searchAll(source, 'Procedure', params({ typeFilters: ['code=abc'] }))).map((r) => r.id).sort(),
    ).toEqual(['proc-1', 'proc-2']);
  });

  test.each([
    ['Observation', 'value-quantity=gt5'],
    ['Observation', 'status:not=final'],
    ['Observation', 'subject.name=x'],
    ['Observation', '_lastUpdated=gt2024-01-01'],
    ['Patient', 'status=active'],
    ['Observation', 'status='],
    ['Observation', 'nonsense'],
    ['Procedure', 'code=|abc'],
  ])('an unsupported %s filter "%s" is a BadRequestError', async (type, filter) => {
    await expect(source.search(type, params({ typeFilters: [filter] }))).rejects.toBeInstanceOf(
      BadRequestError,
    );
  });

  test('a malformed patient reference is a BadRequestError', async () => {
    await expect(source.search('Observation', params({ patients: ['pat-1'] }))).rejects.toBeInstanceOf(
      BadRequestError,
    );
  });

  test('listResourceTypes returns the types that hold data', async () => {
    expect(await source.listResourceTypes()).toEqual([
      'Condition',
      'Immunization',
      'Observation',
      'Patient',
      'Procedure',
    ]);
  });

  test('read returns one resource without system fields, undefined when missing', async () => {
    expect(await source.read('Patient', 'pat-0')).toEqual({
      resourceType: 'Patient',
      id: 'pat-0',
      meta: { lastUpdated: instant(0) },
      active: true,
    });
    expect(await source.read('Patient', 'nope')).toBeUndefined();
    expect(await source.read('Group', 'pat-0')).toBeUndefined();
    const cond = await source.read('Condition', 'cond-1');
    expect((cond?.meta as { lastUpdated: string }).lastUpdated).toBe('2024-01-01T00:00:00.000Z');
  });

  test('an empty type has one empty last page', async () => {
    const page = await source.search('Encounter', params());
    // The first page also reports the total (here none).
    expect(page).toEqual({ resources: [], nextToken: undefined, total: 0 });
  });
});
