/**
 * `generalize`: a primitive becomes the value of the first case whose condition holds for it;
 * with no case true it is removed (`otherValues: redact`) or left (`keep`).
 */
import type { CompiledCase } from '../compiledRules';
import { plainValues } from '../fhirpath';
import { isJsonObject, readValue, writeValue } from '../nodes';
import { ProcessingFailure, type NodeMethod } from './method';
import { removeValue } from './redact';

export function generalizeMethod(cases: readonly CompiledCase[], otherValues: 'redact' | 'keep'): NodeMethod {
  return {
    wholeSubtree: false,
    apply(element, context) {
      const value = readValue(element);
      if (isJsonObject(value) || Array.isArray(value)) return undefined;
      for (const { condition, value: replacement } of cases) {
        let result: unknown[];
        try {
          const node = context.scope.nodeOf(element);
          if (plainValues(condition(node, context.scope))[0] !== true) continue;
          result = plainValues(replacement(node, context.scope));
        } catch {
          // FHIRPath's messages quote the value; the failure must not.
          throw new ProcessingFailure('a generalize case failed to evaluate');
        }
        writeValue(element, result[0] ?? null);
        return 'GENERALIZED';
      }
      return otherValues === 'redact' ? removeValue(element) : undefined;
    },
  };
}
