/**
 * Job slot ledgers (see `jobSlots.ts`) in the jobs container of Cosmos DB. Every change of a ledger
 * is a create (409 when another kick-off created it first) or a replace with If-Match on the etag it
 * was read with (412 when another changed it): a loser reads again and decides again, so two
 * kick-offs can never both take the last slot.
 */
import type { Container } from '@azure/cosmos';
import { ServiceUnavailableError } from '../export/errors';
import type { JobStatus } from '../export/model';
import { cosmosStatusOf, readDocument } from './cosmosDocuments';
import {
  clientLedgerKey,
  holderFate,
  SERVICE_LEDGER_KEY,
  SLOT_RESERVATION_GRACE_MS,
  type HolderJobState,
  type SlotCaps,
  type SlotHolder,
  type SlotLedger,
  type SlotVerdict,
  type VoidedJob,
} from './jobSlots';

export interface CosmosJobSlotsOptions {
  now?: () => Date;
  /** How long a reservation may wait for its job record before it is voided. */
  reservationGraceMs?: number;
}

/** Rounds of read-and-replace one ledger change may take while other kick-offs contend for it. */
const MAX_ATTEMPTS = 200;
/** Longest pause between two rounds; the pause is random so that contenders spread out. */
const MAX_BACKOFF_MS = 100;

function backoff(attempt: number): Promise<void> {
  const ceiling = Math.min(MAX_BACKOFF_MS, 5 * 2 ** Math.min(attempt, 5));
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}

export class CosmosJobSlots {
  private readonly now: () => Date;
  private readonly graceMs: number;

  constructor(
    private readonly container: Container,
    options: CosmosJobSlotsOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.graceMs = options.reservationGraceMs ?? SLOT_RESERVATION_GRACE_MS;
  }

  /**
   * Takes a slot of the client's cap, then one of the service's. When the service is full the
   * client's slot is given back; a process that dies in between leaves a holder without a job
   * record, which the grace and void take care of.
   */
  async reserve(jobId: string, clientId: string, caps: SlotCaps): Promise<SlotVerdict> {
    const holder: SlotHolder = { jobId, clientId, reservedAt: this.now().toISOString() };
    if (!(await this.take(clientLedgerKey(clientId), holder, caps.perClient))) return 'client-full';
    if (!(await this.take(SERVICE_LEDGER_KEY, holder, caps.total))) {
      await this.give(clientLedgerKey(clientId), jobId);
      return 'service-full';
    }
    return 'reserved';
  }

  /** Gives back the job's slots; a job that holds none changes nothing. */
  async release(jobId: string, clientId: string): Promise<void> {
    await this.give(SERVICE_LEDGER_KEY, jobId);
    await this.give(clientLedgerKey(clientId), jobId);
  }

  /** The holders of a ledger (empty when it does not exist yet). */
  async holders(key: string): Promise<SlotHolder[]> {
    return (await this.read(key))?.holders ?? [];
  }

  private async take(key: string, holder: SlotHolder, cap: number): Promise<boolean> {
    return this.change(key, async (holders) => {
      if (holders.some((h) => h.jobId === holder.jobId)) return { result: true };
      const kept = holders.length >= cap ? await this.prune(holders) : holders;
      if (kept.length >= cap) return { result: false };
      return { result: true, holders: [...kept, holder] };
    });
  }

  private async give(key: string, jobId: string): Promise<void> {
    await this.change(key, async (holders) =>
      holders.some((h) => h.jobId === jobId)
        ? { result: undefined, holders: holders.filter((h) => h.jobId !== jobId) }
        : { result: undefined },
    );
  }

  /**
   * Reads the ledger, lets `decide` look at its holders, and writes the holders it returns with
   * If-Match (or creates the ledger); on a conflict it starts over from a fresh read.
   */
  private async change<T>(
    key: string,
    decide: (holders: SlotHolder[]) => Promise<{ result: T; holders?: SlotHolder[] }>,
  ): Promise<T> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const ledger = await this.read(key);
      const decision = await decide(ledger?.holders ?? []);
      if (!decision.holders || (await this.write(key, ledger, decision.holders))) return decision.result;
      await backoff(attempt);
    }
    throw new ServiceUnavailableError('Too many exports are starting at once; retry shortly.', 1);
  }

  private read(key: string): Promise<SlotLedger | undefined> {
    return readDocument<SlotLedger>(this.container, key, key);
  }

  /** Writes the ledger if nobody changed it since `read`; false when someone did. */
  private async write(key: string, read: SlotLedger | undefined, holders: SlotHolder[]): Promise<boolean> {
    const body: SlotLedger = { id: key, jobId: key, docType: 'slots', holders };
    try {
      if (read?._etag) {
        await this.container
          .item(key, key)
          .replace(body, { accessCondition: { type: 'IfMatch', condition: read._etag } });
      } else {
        await this.container.items.create(body);
      }
      return true;
    } catch (err) {
      const status = cosmosStatusOf(err);
      if (status === 409 || status === 412 || status === 404) return false;
      throw err;
    }
  }

  /** The holders of a full ledger that still count: their jobs are active, or may yet be created. */
  private async prune(holders: SlotHolder[]): Promise<SlotHolder[]> {
    const states = await this.jobStates(holders.map((h) => h.jobId));
    const kept: SlotHolder[] = [];
    for (const holder of holders) {
      const fate = holderFate(holder, states.get(holder.jobId), this.now(), this.graceMs);
      if (fate === 'keep' || (fate === 'void' && !(await this.voidJob(holder)))) kept.push(holder);
    }
    return kept;
  }

  private async jobStates(jobIds: string[]): Promise<Map<string, HolderJobState>> {
    const { resources } = await this.container.items
      .query<{ id: string; docType: string; status?: JobStatus }>({
        query:
          'SELECT c.id, c.docType, c.status FROM c WHERE ARRAY_CONTAINS(@ids, c.id) AND ARRAY_CONTAINS(@types, c.docType)',
        parameters: [
          { name: '@ids', value: jobIds },
          { name: '@types', value: ['job', 'voidedJob'] },
        ],
      })
      .fetchAll();
    return new Map(resources.map((r) => [r.id, r.docType === 'job' ? r.status : 'voided']));
  }

  /**
   * Takes the job id with a stand-in record, so that a late kick-off can no longer create the job.
   * True when the holder may go: the void was written, or the id was voided or ended meanwhile.
   */
  private async voidJob(holder: SlotHolder): Promise<boolean> {
    const body: VoidedJob = {
      id: holder.jobId,
      jobId: holder.jobId,
      docType: 'voidedJob',
      clientId: holder.clientId,
      voidedAt: this.now().toISOString(),
    };
    try {
      await this.container.items.create(body);
      return true;
    } catch (err) {
      if (cosmosStatusOf(err) !== 409) throw err;
    }
    // The id is taken: by the job, created just in time, or by a concurrent void.
    const state = (await this.jobStates([holder.jobId])).get(holder.jobId);
    return holderFate(holder, state, this.now(), this.graceMs) === 'drop';
  }
}
