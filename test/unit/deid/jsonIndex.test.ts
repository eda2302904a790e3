import { isDeepStrictEqual } from 'node:util';
import { fhirpathIndex } from '../../../src/deid/fhirpathIndex';
import { jsonIndex } from '../../../src/deid/jsonIndex';
import { ResourceScope, type Element, type NodeIndex } from '../../../src/deid/nodes';
import { planRule } from '../../../src/deid/rulePlans';
import { comparisonResources } from './edgeResources';

/** What both indexes must agree on for each element, container by identity included. */
function describeAll(index: NodeIndex): unknown {
  const view = (elements: Element[]): unknown[] =>
    elements.map((e) => [e.loc, e.key, e.index, e.type, e.nested, e.isResource, e.parent?.loc, e.container]);
  const map = (m: Map<string, Element[]>): unknown[] => [...m].map(([key, list]) => [key, view(list)]);
  return {
    children: map(index.children),
    byType: map(index.byType),
    byName: map(index.byName),
    nested: view(index.nested),
  };
}

describe('the JSON walk', () => {
  it('given the synthetic data and edge cases, then its index equals the one from descendants(), or it declines the odd JSON', () => {
    const declined: unknown[] = [];
    const differ: unknown[] = [];
    for (const resource of comparisonResources()) {
      const scope = new ResourceScope(resource, fhirpathIndex);
      const walk = jsonIndex(scope.rootElement, resource);
      if (!walk) declined.push(resource.id);
      else if (!isDeepStrictEqual(describeAll(walk), describeAll(fhirpathIndex(scope))))
        differ.push(resource.id);
    }
    expect(differ).toEqual([]);
    expect(declined).toEqual(['x1', 'x2', 'x3']);
  });
});

describe('rule plans', () => {
  it.each([
    ['name.given', 'direct'],
    ["nodesByType('Address').postalCode", 'direct'],
    ["contact.nodesByName('family').extension.url", 'direct'],
    ["nodesByType('Quantity').where(value > 89).value", 'guarded'],
    ["nodesByType('Coding').first().display", 'guarded'],
    ['name[0].given', 'guarded'],
    ['name.given | name.family', 'fhirpath'],
    ['descendants().ofType(Period)', 'fhirpath'],
    ['resourceType', 'fhirpath'],
    ['`div`', 'fhirpath'],
    ["nodesByName('a\\'b')", 'fhirpath'],
    ['name.exists()', 'fhirpath'],
  ])('given %s, then it is evaluated %s', (expression, expected) => {
    const plan = planRule(expression);
    expect(plan ? (plan.complete ? 'direct' : 'guarded') : 'fhirpath').toBe(expected);
  });
});
