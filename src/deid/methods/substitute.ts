/**
 * `substitute`: a primitive takes the configured string, a complex node the configured object. What
 * an earlier rule already processed inside a complex node keeps its processed value.
 */
import {
  isJsonObject,
  readValue,
  writeValue,
  type Element,
  type JsonObject,
  type ResourceScope,
} from '../nodes';
import { ProcessingFailure, type NodeMethod } from './method';

type Step = [key: string, index: number | undefined];

/** The processed descendants of a node, each with its steps from the node and its current value. */
function processedBelow(scope: ResourceScope, element: Element, steps: Step[] = []): [Step[], unknown][] {
  return (scope.index().children.get(element.loc) ?? []).flatMap((child) => {
    const path: Step[] = [...steps, [child.key, child.index]];
    if (scope.isMarked(child)) return [[path, readValue(child)] as [Step[], unknown]];
    return processedBelow(scope, child, path);
  });
}

function place(target: JsonObject, steps: Step[], value: unknown): void {
  let at: JsonObject = target;
  steps.forEach(([key, index], position) => {
    const last = position === steps.length - 1;
    if (index === undefined) {
      if (last) at[key] = value;
      else at = isJsonObject(at[key]) ? (at[key] as JsonObject) : (at[key] = {});
      return;
    }
    const array = Array.isArray(at[key]) ? (at[key] as unknown[]) : (at[key] = []);
    if (last) array[index] = value;
    else at = isJsonObject(array[index]) ? (array[index] as JsonObject) : (array[index] = {});
  });
}

export function substituteMethod(replaceWith: string | JsonObject): NodeMethod {
  return {
    wholeSubtree: true,
    apply(element, context) {
      const value = readValue(element);
      if (value === null || value === undefined) return undefined;
      if (!isJsonObject(value)) {
        if (typeof replaceWith !== 'string')
          throw new ProcessingFailure('substitute needs a string for a primitive');
        writeValue(element, replaceWith);
        return 'SUBSTITUTED';
      }
      if (typeof replaceWith === 'string')
        throw new ProcessingFailure('substitute needs an object for a complex type');
      const replacement = structuredClone(replaceWith);
      for (const [steps, kept] of processedBelow(context.scope, element)) place(replacement, steps, kept);
      // The object is refilled rather than replaced, so elements found earlier still point into it.
      for (const key of Object.keys(value)) delete value[key];
      Object.assign(value, replacement);
      return 'SUBSTITUTED';
    },
  };
}
