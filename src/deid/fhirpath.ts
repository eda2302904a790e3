/**
 * The FHIRPath engine as the rules use it: the R4 model, nodes kept as `ResourceNode`s (they know
 * their parent, property, index and FHIR type, which is what lets the methods change the JSON), and
 * the anonymizer's own functions `nodesByType` and `nodesByName`.
 */
import { compile, resolveInternalTypes, type Model, type ResourceNode } from 'fhirpath';
import * as r4 from 'fhirpath/fhir-context/r4';

export type { ResourceNode };

export const R4_MODEL = r4 as unknown as Model;

/** The environment variable through which the two extension functions reach the resource's index. */
export const LOOKUP_VAR = 'deidNodeLookup';

/** What `nodesByType` and `nodesByName` ask of the resource being de-identified. */
export interface NodeLookup {
  nodesByType(inputs: ResourceNode[], type: string): ResourceNode[];
  nodesByName(inputs: ResourceNode[], name: string): ResourceNode[];
}

export type CompiledExpression = (context: unknown, lookup?: NodeLookup) => unknown[];

interface EvaluationContext {
  vars: Record<string, unknown>;
}

function lookupOf(context: EvaluationContext): NodeLookup {
  const lookup = context.vars[LOOKUP_VAR] as NodeLookup | undefined;
  if (!lookup) throw new Error('nodesByType and nodesByName need a resource to search');
  return lookup;
}

const userInvocationTable = {
  nodesByType: {
    fn(this: EvaluationContext, inputs: ResourceNode[], type: string): ResourceNode[] {
      return lookupOf(this).nodesByType(inputs, type);
    },
    arity: { 1: ['String' as const] },
    internalStructures: true,
  },
  nodesByName: {
    fn(this: EvaluationContext, inputs: ResourceNode[], name: string): ResourceNode[] {
      return lookupOf(this).nodesByName(inputs, name);
    },
    arity: { 1: ['String' as const] },
    internalStructures: true,
  },
};

/** Compiles once; throws on a syntax error. */
export function compileExpression(expression: string): CompiledExpression {
  const evaluate = compile(expression, R4_MODEL, { resolveInternalTypes: false, userInvocationTable });
  return (context, lookup) => evaluate(context, lookup ? { [LOOKUP_VAR]: lookup } : {}) as unknown[];
}

/** Plain JavaScript values of an evaluation's result. */
export function plainValues(result: unknown[]): unknown[] {
  return resolveInternalTypes(result) as unknown[];
}

/** Whether a name is R4 resource type, or one of the abstract bases every resource has. */
export function isResourceTypeName(name: string): boolean {
  for (let type: string | undefined = name; type; type = R4_MODEL.type2Parent[type]) {
    if (type === 'Resource') return true;
  }
  return false;
}
