/** Synthetic Groups: person cohorts of given patients, for group-level export. */
import type { FhirResource, Reference } from './syntheticTypes';
import { DEFAULT_WINDOW } from './syntheticOptions';

export interface GroupResource extends FhirResource {
  resourceType: 'Group';
  type: 'person';
  actual: true;
  name?: string;
  quantity: number;
  member: { entity: Reference; inactive?: boolean }[];
}

export interface GroupOptions {
  /** Group name. Default `Synthetic cohort {id}`. */
  name?: string;
  /** Patient ids whose membership is marked `inactive: true`. */
  inactiveMembers?: readonly string[];
  /** `meta.lastUpdated`. Default the start of DEFAULT_WINDOW. */
  lastUpdated?: string;
}

/** A Group (type person, actual) whose members are the given patients, in the given order. */
export function generateGroup(
  id: string,
  memberPatientIds: readonly string[],
  options: GroupOptions = {},
): GroupResource {
  if (!/^[A-Za-z0-9\-.]{1,64}$/.test(id)) throw new RangeError(`'${id}' is not a valid FHIR id`);
  const inactive = new Set(options.inactiveMembers ?? []);
  return {
    resourceType: 'Group',
    id,
    meta: { versionId: '1', lastUpdated: options.lastUpdated ?? DEFAULT_WINDOW.start },
    type: 'person',
    actual: true,
    name: options.name ?? `Synthetic cohort ${id}`,
    quantity: memberPatientIds.length,
    member: memberPatientIds.map((pid) => ({
      entity: { reference: `Patient/${pid}` },
      ...(inactive.has(pid) ? { inactive: true } : {}),
    })),
  };
}
