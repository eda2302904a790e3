/**
 * Job slots: how the per-client and service-wide caps on active jobs hold under concurrent
 * kick-offs. A cap is a ledger document listing the jobs that hold one of its slots; a kick-off adds
 * its job id to the client's ledger and to the service's ledger (each an etag-guarded replace) before
 * the job record exists, and a job that ends takes its id out again.
 *
 * Holders are checked against the job records whenever a ledger is full, so nothing leaks: a holder
 * whose job ended (its release was lost) is dropped, and a holder whose job record never appeared
 * within the reservation grace (its kick-off died) is voided: a stand-in record takes the job id, so
 * a kick-off that only paused cannot create that job afterwards, and the holder is dropped.
 */
import { createHash } from 'node:crypto';
import { isActiveStatus } from '../export/jobLifecycle';
import type { JobStatus } from '../export/model';

export interface SlotCaps {
  /** Active jobs one client may have. */
  perClient: number;
  /** Active jobs across all clients. */
  total: number;
}

/** The outcome of a reservation: which cap, if any, was full. */
export type SlotVerdict = 'reserved' | 'client-full' | 'service-full';

/** One job holding a slot of a ledger. */
export interface SlotHolder {
  jobId: string;
  clientId: string;
  /** ISO instant of the reservation; the grace for creating the job record runs from it. */
  reservedAt: string;
}

/** A ledger document: the holders of one cap's slots, replaced only with If-Match on its etag. */
export interface SlotLedger {
  /** Equal to `jobId`: a ledger is alone in its partition. */
  id: string;
  /** The partition key value (`slots:…`, never a UUID, so never a job's). */
  jobId: string;
  docType: 'slots';
  holders: SlotHolder[];
  _etag?: string;
}

/** The stand-in record that takes a job id whose kick-off reserved slots but never created the job. */
export interface VoidedJob {
  id: string;
  jobId: string;
  docType: 'voidedJob';
  clientId: string;
  voidedAt: string;
}

/** What a ledger check found for a holder's job id: its status, a void, or nothing. */
export type HolderJobState = JobStatus | 'voided' | undefined;

/** How long a kick-off has from its reservation to creating the job record. */
export const SLOT_RESERVATION_GRACE_MS = 60_000;

/** The ledger of the service-wide cap. */
export const SERVICE_LEDGER_KEY = 'slots:service';

/** The ledger of one client's cap; the client id is hashed, as ids may hold any character. */
export function clientLedgerKey(clientId: string): string {
  return `slots:client:${createHash('sha256').update(clientId).digest('hex').slice(0, 40)}`;
}

/**
 * What a full ledger does with a holder: keep it (its job is active, or its reservation is young),
 * drop it (its job ended or was voided), or void its job id (no record after the grace).
 */
export function holderFate(
  holder: SlotHolder,
  state: HolderJobState,
  now: Date,
  graceMs: number,
): 'keep' | 'drop' | 'void' {
  if (state === undefined) {
    return now.getTime() - Date.parse(holder.reservedAt) > graceMs ? 'void' : 'keep';
  }
  if (state === 'voided') return 'drop';
  return isActiveStatus(state) ? 'keep' : 'drop';
}
