/** What every de-identification method shares: how it is called on a node and how it fails. */
import type { Element, JsonObject, ResourceScope } from '../nodes';
import type { SecurityLabel } from '../securityLabels';

/**
 * A method could not process a node. Its reason never quotes the resource's content, because it
 * reaches the job's failure details and logs.
 */
export class ProcessingFailure extends Error {}

/** The resource being processed, as the methods see it. */
export interface MethodContext {
  readonly scope: ResourceScope;
  readonly resourceType: string;
  /** The resource's id when its processing began: with the seed, it makes noise and IVs repeatable. */
  readonly originalId: string;
  /** The resource whose current id prefixes the date-shift key (the root, for a contained resource). */
  readonly dateShiftSource: JsonObject;
  readonly seed: string;
}

export interface NodeMethod {
  /**
   * True when the method handles the matched node's whole subtree in one call (keep, substitute);
   * otherwise it is called on the matched node and on each descendant not processed yet.
   */
  readonly wholeSubtree: boolean;
  /** Changes the node in place; returns the security label it earns, if it changed something. */
  apply(element: Element, context: MethodContext): SecurityLabel | undefined;
}

export const DATE_TYPES = new Set(['date', 'dateTime', 'instant']);

/** Where a node lives in its resource, for deriving per-node randomness that repeats exactly. */
export function nodeIdentity(element: Element, context: MethodContext): string {
  return [context.seed, context.resourceType, context.originalId, element.loc].join('\u0000');
}
