/**
 * Rule paths that need no FHIRPath engine. A path whose expression is a chain of member steps
 * (`name.given`), `nodesByType('T')` and `nodesByName('n')` is read from the resource's JSON index
 * directly. A chain that starts so and goes on with steps that give nothing from nothing (`where`,
 * `ofType`, `first`, …: `nodesByType('Quantity').where(…).value`) is still evaluated by FHIRPath,
 * but only when its leading steps find something. Anything else is FHIRPath's alone.
 */
import { parse } from 'fhirpath';
import { below, isJsonObject, jsonKey, readValue, type Element, type ResourceScope } from './nodes';
import { memberKey } from './r4Paths';

type Step =
  | { readonly kind: 'member'; readonly name: string }
  | { readonly kind: 'byType' | 'byName'; readonly value: string };

export interface RulePlan {
  /** The leading steps that are read from the JSON index. */
  readonly head: readonly Step[];
  /** True when the head is the whole expression. */
  readonly complete: boolean;
}

interface AstNode {
  readonly type: string;
  readonly text?: string;
  readonly children?: readonly AstNode[];
}

/** Functions that give an empty collection for an empty input, whatever their argument. */
const EMPTY_FOR_EMPTY = new Set([
  'where',
  'ofType',
  'as',
  'first',
  'last',
  'tail',
  'single',
  'distinct',
  'nodesByType',
  'nodesByName',
]);

/** Lower-case names only: a capitalised first step is a type test in FHIRPath, not a member. */
const MEMBER_NAME = /^[a-z][A-Za-z0-9_]*$/;
const SIMPLE_STRING = /^'([^'\\]*)'$/;

/** The invocations of a chain, left to right; undefined if the expression is not one chain. */
function chain(node: AstNode): AstNode[] | undefined {
  const [first, second] = node.children ?? [];
  if (node.type === 'InvocationExpression' && first && second) {
    const left = chain(first);
    return left && [...left, second];
  }
  if (node.type === 'IndexerExpression' && first && second) {
    const left = chain(first);
    const literal = second.children?.[0];
    return left && literal?.children?.[0]?.type === 'NumberLiteral' ? [...left, node] : undefined;
  }
  if (node.type === 'TermExpression' && first?.type === 'InvocationTerm' && first.children?.[0]) {
    return [first.children[0]];
  }
  return undefined;
}

function functionName(node: AstNode): string | undefined {
  return node.type === 'FunctionInvocation' ? node.children?.[0]?.children?.[0]?.text : undefined;
}

/** A step the JSON index answers, or undefined. */
function simpleStep(node: AstNode): Step | undefined {
  if (node.type === 'MemberInvocation') {
    const name = node.children?.[0]?.text ?? '';
    // FHIRPath reads inherited properties (`constructor`) of plain objects, and `resourceType`, which
    // the index leaves out.
    const plain = MEMBER_NAME.test(name) && !(name in Object.prototype) && name !== 'resourceType';
    return plain ? { kind: 'member', name } : undefined;
  }
  const name = functionName(node);
  if (name !== 'nodesByType' && name !== 'nodesByName') return undefined;
  const params = node.children?.[0]?.children?.[1]?.children ?? [];
  const literal = params.length === 1 ? params[0].children?.[0] : undefined;
  const text = literal?.children?.[0]?.type === 'StringLiteral' ? literal.text : undefined;
  const match = SIMPLE_STRING.exec(text ?? '');
  if (!match) return undefined;
  return { kind: name === 'nodesByType' ? 'byType' : 'byName', value: match[1] };
}

function emptyForEmpty(node: AstNode): boolean {
  if (node.type === 'MemberInvocation' || node.type === 'IndexerExpression') return true;
  const name = functionName(node);
  return name !== undefined && EMPTY_FOR_EMPTY.has(name);
}

/** The plan of an expression that compiled, or undefined when FHIRPath must evaluate it every time. */
export function planRule(expression: string): RulePlan | undefined {
  let node = parse(expression) as AstNode;
  while (node.type === 'EntireExpression' && node.children?.length === 1) node = node.children[0];
  const invocations = chain(node);
  if (!invocations) return undefined;
  const head: Step[] = [];
  for (const invocation of invocations) {
    const step = simpleStep(invocation);
    if (!step) break;
    head.push(step);
  }
  if (head.length === 0) return undefined;
  const rest = invocations.slice(head.length);
  if (!rest.every(emptyForEmpty)) return undefined;
  return { head, complete: rest.length === 0 };
}

/** Companion properties FHIRPath reads as children of a string, boolean or empty primitive. */
const PRIMITIVE_MEMBERS = new Set(['id', 'extension']);

function memberStep(scope: ResourceScope, inputs: readonly Element[], name: string): Element[] | undefined {
  const found: Element[] = [];
  const children = scope.index().children;
  for (const input of inputs) {
    const value = readValue(input);
    let key: string | undefined = name;
    if (isJsonObject(value)) {
      key = memberKey(input.path as string, name, value);
      // FHIRPath names a choice's node by its base name, and such a node's element is the first key
      // that extends the name; with two choices in one object that may not be the one FHIRPath read.
      if (key !== undefined && key !== name && jsonKey(value, name) !== key) return undefined;
    } else if (
      !PRIMITIVE_MEMBERS.has(name) ||
      (value !== null && value !== undefined && typeof value !== 'string' && typeof value !== 'boolean')
    ) {
      // FHIRPath reads other members of a JavaScript primitive (`length`), and none of a number.
      return undefined;
    }
    if (key === undefined) continue;
    for (const child of children.get(input.loc) ?? []) if (child.key === key) found.push(child);
  }
  return found;
}

/**
 * The elements the plan's head reaches (nested resources left out: rules skip them anyway), or
 * undefined when this resource's data needs FHIRPath after all.
 */
export function evaluateHead(plan: RulePlan, scope: ResourceScope): Element[] | undefined {
  let current: Element[] | undefined = [scope.rootElement];
  const index = scope.index();
  for (const step of plan.head) {
    if (step.kind === 'member') current = memberStep(scope, current, step.name);
    else current = below(current, (step.kind === 'byType' ? index.byType : index.byName).get(step.value));
    if (!current) return undefined;
    if (current.length === 0) return current;
  }
  return current;
}
