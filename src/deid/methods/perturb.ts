/**
 * `perturb`: uniform noise in [-span/2, span/2] added to a number (a Quantity's value included, as a
 * descendant), then rounded. The noise comes from a hash of the node's identity, so it repeats exactly.
 */
import { createHash } from 'node:crypto';
import type { PerturbOptions } from '../configuration';
import { readValue, writeValue } from '../nodes';
import { nodeIdentity, type NodeMethod } from './method';

const INTEGER_TYPES = new Set(['integer', 'positiveInt', 'unsignedInt', 'integer64']);
const DEFAULT_DECIMALS = 2;

/** A number in [0, 1) from 48 bits of SHA-256: enough resolution, and exact in a double. */
export function unitNoise(identity: string): number {
  return createHash('sha256').update(identity, 'utf8').digest().readUIntBE(0, 6) / 2 ** 48;
}

export function perturbValue(
  value: number,
  type: string | undefined,
  options: PerturbOptions,
  unit: number,
): number {
  const span = options.rangeType === 'proportional' ? options.span * Math.abs(value) : options.span;
  const noisy = value + (unit - 0.5) * span;
  const integer = INTEGER_TYPES.has(type ?? '');
  const decimals = integer ? 0 : (options.roundTo ?? DEFAULT_DECIMALS);
  const rounded = Number(noisy.toFixed(decimals));
  if (type === 'positiveInt') return Math.max(1, rounded);
  if (type === 'unsignedInt') return Math.max(0, rounded);
  return rounded;
}

export function perturbMethod(options: PerturbOptions): NodeMethod {
  return {
    wholeSubtree: false,
    apply(element, context) {
      const value = readValue(element);
      if (typeof value !== 'number') return undefined;
      writeValue(
        element,
        perturbValue(value, element.type, options, unitNoise(nodeIdentity(element, context))),
      );
      return 'PERTURBED';
    },
  };
}
