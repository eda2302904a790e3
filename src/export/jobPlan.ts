/**
 * Planning a job's work when it starts: which types, whose compartments (a Group's active members or
 * the `patient` list), and the units (a type, or a time range of a large type) the lanes will run.
 */
import type { ExportDeps } from './exportDeps';
import { NotFoundError } from './errors';
import { during, OPERATIONS } from './failureMapping';
import type { ExportJobRecord, ExportRequest, PlannedUnit } from './model';
import { searchUntil, unitSearch } from './pageStep';
import { largestFirst, typeUnits } from './rangePlan';
import { mapWithConcurrency } from '../util/concurrency';

/** Types described at once while planning. */
const DESCRIBE_CONCURRENCY = 4;

/**
 * The types an export of `request` covers: its `_type` list, else every type the source lists; a
 * Patient or Group export keeps only the compartment's types. The kick-off checks the token's scopes
 * against exactly these.
 */
export async function typesToExport(deps: ExportDeps, request: ExportRequest): Promise<string[]> {
  let types =
    request.types.length > 0
      ? request.types
      : await during(OPERATIONS.listTypes, deps.source.listResourceTypes());
  if (request.level !== 'system') types = types.filter((t) => deps.compartmentTypes.has(t));
  return [...new Set(types)].sort();
}

export async function makePlan(
  deps: ExportDeps,
  job: ExportJobRecord,
): Promise<{ types: string[]; scope?: string[] }> {
  const { request } = job;
  // A type the source gained after the kick-off checked the caller's scopes is not exported.
  const checked = job.checkedTypes;
  const types = (await typesToExport(deps, request)).filter((t) => !checked || checked.includes(t));

  if (request.level === 'group') {
    const members = await groupMembers(deps, request.groupId ?? '', job.transactionTime);
    const scope = request.patients.length > 0 ? members.filter((m) => request.patients.includes(m)) : members;
    return { types, scope };
  }
  if (request.level === 'patient' && request.patients.length > 0) return { types, scope: request.patients };
  return { types };
}

/** The ids of every unit a job planned (its durable sub-orchestrations are named after them). */
export function plannedUnitIds(job: ExportJobRecord): string[] {
  return (job.plannedUnits ?? []).map((u) => u.unitId);
}

/**
 * The units of a job: each type on its own, or, when the source says it holds more than the split
 * threshold, one unit per time range (see rangePlan.ts). Sorted by estimated size, largest first,
 * so that the lanes start with the biggest units and a split type's ranges land in different lanes.
 */
export async function planUnits(
  deps: ExportDeps,
  job: ExportJobRecord,
  plan: { types: string[]; scope?: string[] },
): Promise<PlannedUnit[]> {
  const settings = { threshold: deps.config.rangeSplitThreshold, maxRanges: deps.config.maxRangesPerType };
  const describe = deps.source.describe?.bind(deps.source);
  const canSplit =
    describe !== undefined && settings.maxRanges > 1 && !(plan.scope && plan.scope.length === 0);
  const until = searchUntil(job);
  const describeType = (resourceType: string) =>
    describe && canSplit
      ? describe(
          resourceType,
          unitSearch(job, resourceType, deps.config.resourcesPerPage, plan.scope),
          settings.threshold,
        )
      : Promise.resolve(undefined);
  // A few types at a time: a source may list a hundred types, each one count request here.
  const descriptions = await mapWithConcurrency(plan.types, DESCRIBE_CONCURRENCY, describeType);
  return largestFirst(plan.types.flatMap((type, i) => typeUnits(type, descriptions[i], until, settings)));
}

/** The Group's active members at the transaction time, as `Patient/{id}` references. */
async function groupMembers(deps: ExportDeps, groupId: string, transactionTime: string): Promise<string[]> {
  const group = await deps.source.read('Group', groupId);
  if (!group) throw new NotFoundError(`Group ${groupId} was not found.`);
  const at = Date.parse(transactionTime);
  const members = Array.isArray(group.member) ? (group.member as Array<Record<string, unknown>>) : [];
  const references: string[] = [];
  for (const member of members) {
    if (member.inactive === true) continue;
    const period = member.period as { start?: string; end?: string } | undefined;
    if (period?.start && Date.parse(period.start) > at) continue;
    if (period?.end && Date.parse(period.end) < at) continue;
    const reference = (member.entity as { reference?: unknown } | undefined)?.reference;
    if (typeof reference === 'string' && /^Patient\/[A-Za-z0-9\-.]{1,64}$/.test(reference))
      references.push(reference);
  }
  return [...new Set(references)];
}
