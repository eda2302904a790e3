/**
 * The job slot ledgers of `CosmosJobStore` on the Cosmos DB emulator: reservations hold under
 * concurrency, releases free slots, and slots of jobs that ended or never got created do not leak.
 */
import { JobConflictError } from '../../../src/export/errors';
import { newJobRecord } from '../../../src/export/kickoff';
import type { ExportJobRecord } from '../../../src/export/model';
import { createCosmosJobStore, type CosmosJobStore } from '../../../src/jobs/cosmosJobStore';
import { clientLedgerKey, SERVICE_LEDGER_KEY } from '../../../src/jobs/jobSlots';
import { defaultOrchestrationSettings, exportRequest } from '../../support/exportRequests';
import { useCosmosTestDatabase } from '../../support/cosmosTestDatabase';
import { uniqueName } from '../../support/testEnv';

const database = useCosmosTestDatabase('jobslots');
const GRACE_MS = 60_000;
/** The stores' clock, moved by the tests. */
let clock = Date.parse('2024-01-01T00:00:00.000Z');

function record(jobId: string, clientId: string): ExportJobRecord {
  return newJobRecord({
    jobId,
    now: new Date(clock),
    request: exportRequest(),
    requestHash: `hash-${jobId}`,
    destination: { accountUrl: 'http://127.0.0.1:1/devstoreaccount1', container: 'exports' },
    clientId,
    orchestration: defaultOrchestrationSettings(),
  });
}

async function newStore(): Promise<CosmosJobStore> {
  return createCosmosJobStore({
    client: database.client,
    databaseId: database.databaseId,
    containerId: uniqueName('jobs'),
    now: () => new Date(clock),
    reservationGraceMs: GRACE_MS,
  });
}

/** Reserves and creates a job, as a kick-off does. */
async function startJob(store: CosmosJobStore, jobId: string, clientId: string): Promise<ExportJobRecord> {
  expect(await store.reserveSlots(jobId, clientId, { perClient: 5, total: 20 })).toBe('reserved');
  return store.createJob(record(jobId, clientId));
}

async function holderIds(store: CosmosJobStore, key: string): Promise<string[]> {
  return (await store.slots.holders(key)).map((h) => h.jobId).sort();
}

describe('job slots in Cosmos DB', () => {
  test('given caps of 3 per client and 5 in all, when 40 reservations of 4 clients race, then exactly the caps are taken', async () => {
    const store = await newStore();
    const clients = ['a', 'b', 'c', 'd'];
    const verdicts = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        store.reserveSlots(`job-${i}`, clients[i % 4], { perClient: 3, total: 5 }),
      ),
    );
    expect(verdicts.filter((v) => v === 'reserved')).toHaveLength(5);
    const service = await holderIds(store, SERVICE_LEDGER_KEY);
    expect(service).toHaveLength(5);
    // A client's ledger holds exactly its jobs that the service took (a refused one gave its slot back).
    const perClient = await Promise.all(clients.map((c) => holderIds(store, clientLedgerKey(c))));
    for (const ids of perClient) expect(ids.length).toBeLessThanOrEqual(3);
    expect(perClient.flat().sort()).toEqual(service);
  });

  test('given a full client, when one of its jobs is released, then the next reservation gets the slot, and a second release changes nothing', async () => {
    const store = await newStore();
    const caps = { perClient: 2, total: 10 };
    expect(await store.reserveSlots('r1', 'x', caps)).toBe('reserved');
    expect(await store.reserveSlots('r2', 'x', caps)).toBe('reserved');
    expect(await store.reserveSlots('r3', 'x', caps)).toBe('client-full');
    await store.releaseSlots('r1', 'x');
    await store.releaseSlots('r1', 'x');
    expect(await store.reserveSlots('r3', 'x', caps)).toBe('reserved');
    // Reserving again for the same job takes no second slot.
    expect(await store.reserveSlots('r3', 'x', caps)).toBe('reserved');
    expect(await holderIds(store, clientLedgerKey('x'))).toEqual(['r2', 'r3']);
    expect(await holderIds(store, SERVICE_LEDGER_KEY)).toEqual(['r2', 'r3']);
  });

  test('given a full service, when a client reserves, then service-full and its client slot is given back', async () => {
    const store = await newStore();
    const caps = { perClient: 5, total: 1 };
    expect(await store.reserveSlots('s1', 'x', caps)).toBe('reserved');
    expect(await store.reserveSlots('s2', 'y', caps)).toBe('service-full');
    expect(await holderIds(store, clientLedgerKey('y'))).toEqual([]);
  });

  test('given a job that ended without releasing its slot, when its ledger is full, then the slot is taken back', async () => {
    const store = await newStore();
    const caps = { perClient: 1, total: 10 };
    const job = await startJob(store, 'e1', 'x');
    expect(await store.reserveSlots('e2', 'x', caps)).toBe('client-full');
    // The process died after marking the job Completed, before releasing.
    await store.replaceJob({ ...job, status: 'Completed', plannedUnits: [] });
    expect(await store.reserveSlots('e2', 'x', caps)).toBe('reserved');
    expect(await holderIds(store, clientLedgerKey('x'))).toEqual(['e2']);
  });

  test('given a reservation whose job was never created, when the grace passes, then its slot is freed and the job id voided', async () => {
    const store = await newStore();
    const caps = { perClient: 1, total: 10 };
    // The kick-off dies (or stalls) after reserving.
    expect(await store.reserveSlots('v1', 'x', caps)).toBe('reserved');
    clock += GRACE_MS / 2;
    expect(await store.reserveSlots('v2', 'x', caps)).toBe('client-full');
    clock += GRACE_MS;
    expect(await store.reserveSlots('v2', 'x', caps)).toBe('reserved');
    expect(await holderIds(store, clientLedgerKey('x'))).toEqual(['v2']);
    // A stalled kick-off that wakes up now cannot create the job whose slot went to another.
    await expect(store.createJob(record('v1', 'x'))).rejects.toBeInstanceOf(JobConflictError);
    expect(await store.getJob('v1')).toBeUndefined();
    expect(await store.countActiveJobs('x')).toBe(0);
  });

  test('given an old reservation whose job was created, when its ledger is full, then the active job keeps its slot', async () => {
    const store = await newStore();
    const caps = { perClient: 1, total: 10 };
    await startJob(store, 'k1', 'x');
    clock += GRACE_MS * 10;
    expect(await store.reserveSlots('k2', 'x', caps)).toBe('client-full');
    expect(await holderIds(store, clientLedgerKey('x'))).toEqual(['k1']);
    expect((await store.getJob('k1'))?.status).toBe('Queued');
  });
});
