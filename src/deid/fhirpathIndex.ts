/**
 * The index of a resource from FHIRPath's own `descendants()`: the reference the JSON walk
 * (jsonIndex.ts) must agree with, and what a resource the walk declines is indexed by.
 */
import { compileExpression, type ResourceNode } from './fhirpath';
import { append, type NodeIndex, type ResourceScope } from './nodes';

const descendantsOf = compileExpression('descendants()');

export function fhirpathIndex(scope: ResourceScope): NodeIndex {
  const index: NodeIndex = { children: new Map(), byType: new Map(), byName: new Map(), nested: [] };
  for (const node of descendantsOf(scope.resource) as ResourceNode[]) {
    const element = scope.elementOf(node);
    if (!element) continue;
    if (element.isResource && element.parent && !element.parent.nested) index.nested.push(element);
    if (element.nested) continue;
    append(index.children, element.parent?.loc ?? '', element);
    if (element.type) append(index.byType, element.type, element);
    append(index.byName, element.key, element);
    if (node.propName && node.propName !== element.key) append(index.byName, node.propName, element);
  }
  return index;
}
