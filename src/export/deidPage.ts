/**
 * The block of a page of a de-identified export: each resource parsed, de-identified, then cut to
 * `_elements`, and written again as one NDJSON line. De-identification comes first because the rules
 * are written for whole resources (a `nodesByType` rule, or a date shift keyed on the id, sees what
 * the configuration's author expected), and `_elements` then keeps the security labels, as it keeps
 * `meta` of every resource.
 */
import type { Deidentifier } from '../deid/contract';
import { lineText, type SearchPage } from '../sources/searchSource';
import { clip } from '../util/clientText';
import { elementsOf } from './elementsFilter';
import type { DeidSkipCount, ProgressDocument } from './model';
import { ndjsonBuffer } from './ndjson';
import { operationOutcome, type OperationOutcome } from './operationOutcome';

/**
 * Distinct (rule, reason) counts a unit keeps; the rest are counted together, so the progress
 * document stays small whatever the data.
 */
const MAX_SKIP_ENTRIES = 20;
const OTHER_RULES = { ruleIndex: -1, reason: 'other rules and reasons' };

export interface DeidPageData {
  data: Buffer;
  count: number;
  /** The unit's skip counts with this page's added; unchanged when nothing was skipped. */
  skipped?: DeidSkipCount[];
}

/**
 * The page de-identified by `deidentifier`. Under `processingErrors: raise` a resource that cannot be
 * de-identified throws `DeidentificationError` here, before any byte is written.
 */
export function deidentifiedPageData(
  page: SearchPage,
  keep: string[],
  deidentifier: Deidentifier,
  skippedSoFar: DeidSkipCount[] | undefined,
): DeidPageData {
  let skipped = skippedSoFar;
  const lines = page.resources.map((line) => {
    const outcome = deidentifier.deidentify(JSON.parse(lineText(line)) as Record<string, unknown>);
    if (outcome.skipped)
      skipped = countSkip(skipped ?? [], outcome.skipped.ruleIndex, outcome.skipped.reason);
    return JSON.stringify(keep.length > 0 ? elementsOf(outcome.resource, keep) : outcome.resource);
  });
  return { data: ndjsonBuffer(lines), count: lines.length, skipped };
}

/** `counts` with one more resource skipped by `ruleIndex` for `reason` (a new array). */
function countSkip(counts: DeidSkipCount[], ruleIndex: number, reason: string): DeidSkipCount[] {
  const text = clip(reason, 200);
  let key = { ruleIndex, reason: text };
  if (
    !counts.some((c) => c.ruleIndex === ruleIndex && c.reason === text) &&
    counts.length >= MAX_SKIP_ENTRIES - 1
  ) {
    key = OTHER_RULES;
  }
  const found = counts.find((c) => c.ruleIndex === key.ruleIndex && c.reason === key.reason);
  if (!found) return [...counts, { ...key, count: 1 }];
  return counts.map((c) => (c === found ? { ...c, count: c.count + 1 } : c));
}

/**
 * What the manifest's `error` file says of the stubs: one warning per type, rule and reason, with how
 * many resources it covers (the ranges of a split type added up). Never a resource's id or content.
 */
export function deidSkipOutcomes(progress: readonly ProgressDocument[]): OperationOutcome[] {
  const totals = new Map<string, { type: string; ruleIndex: number; reason: string; count: number }>();
  for (const unit of progress) {
    for (const skip of unit.deidSkipped ?? []) {
      const key = JSON.stringify([unit.resourceType, skip.ruleIndex, skip.reason]);
      const total = totals.get(key) ?? { type: unit.resourceType, ...skip, count: 0 };
      total.count += skip.count;
      totals.set(key, total);
    }
  }
  return [...totals.values()]
    .sort(
      (a, b) => a.type.localeCompare(b.type) || a.ruleIndex - b.ruleIndex || a.reason.localeCompare(b.reason),
    )
    .map(({ type, ruleIndex, reason, count }) => {
      const rule = ruleIndex < 0 ? 'other rules' : `rule ${ruleIndex}`;
      const [resources, stubs] =
        count === 1
          ? [`1 ${type} resource`, 'a redacted stub']
          : [`${count} ${type} resources`, 'redacted stubs'];
      return operationOutcome(
        `${resources} could not be de-identified by ${rule} (${reason}); written as ${stubs}.`,
        'processing',
        'warning',
      );
    });
}
