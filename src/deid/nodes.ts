/**
 * Where the nodes of one resource live in its JSON. FHIRPath gives `ResourceNode`s; each becomes an
 * `Element` that knows the object holding its value, the property and the array index, so a method
 * changes the JSON in place. An element's location (`.name[0].given[1]`) names it across rule
 * evaluations, which build new `ResourceNode`s each time.
 */
import { compileExpression, type CompiledExpression, type NodeLookup, type ResourceNode } from './fhirpath';

export type JsonObject = Record<string, unknown>;

export interface Element {
  readonly node: ResourceNode;
  readonly parent: Element | undefined;
  /** The path from the resource: `.name[0].given[1]`; the resource itself is ''. */
  readonly loc: string;
  /** The object that holds the value (for an extension on a primitive, the `_name` object). */
  readonly container: JsonObject;
  readonly key: string;
  readonly index: number | undefined;
  /** The FHIR type: `HumanName`, `date`, `id`, … */
  readonly type: string | undefined;
  /** A resource inside the evaluated one (contained, a Bundle entry), or a node inside such a resource. */
  readonly nested: boolean;
  readonly isResource: boolean;
}

/** A plain object (from any realm), not an array nor one of FHIRPath's value classes. */
export function isJsonObject(value: unknown): value is JsonObject {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === null || Object.getPrototypeOf(prototype) === null;
}

export function readValue(element: Element): unknown {
  const value = element.container[element.key];
  return element.index === undefined ? value : Array.isArray(value) ? value[element.index] : undefined;
}

/** Writes in place; `null` marks a removed value, cleared at the end so array indexes stay valid. */
export function writeValue(element: Element, value: unknown): void {
  if (element.index === undefined) {
    element.container[element.key] = value;
    return;
  }
  const array = element.container[element.key];
  if (Array.isArray(array)) array[element.index] = value;
}

/** The JSON property of a node: FHIRPath drops the type suffix of a choice (`value` for `valueQuantity`). */
function jsonKey(container: JsonObject, propName: string): string | undefined {
  if (propName in container) return propName;
  return Object.keys(container).find(
    (key) => key.length > propName.length && key.startsWith(propName) && /[A-Z]/.test(key[propName.length]),
  );
}

function fhirType(node: ResourceNode, key: string, parent: Element): string | undefined {
  const type = node.fhirNodeDataType ?? undefined;
  // The R4 model types Resource.id as a plain string; the anonymizer sees an `id`.
  if (key === 'id' && parent.isResource) return 'id';
  if (type === undefined && (key === 'extension' || key === 'modifierExtension')) return 'Extension';
  return type?.startsWith('System.') ? type.slice('System.'.length).toLowerCase() : type;
}

const descendantsOf = compileExpression('descendants()');
const thisNode = compileExpression('$this');

/** One resource being de-identified: its elements, its index by type and name, what has been processed. */
export class ResourceScope implements NodeLookup {
  private readonly elements = new WeakMap<ResourceNode, Element | null>();
  private readonly processed = new Set<string>();
  private indexCache: ResourceIndex | undefined;
  readonly rootElement: Element;

  constructor(readonly resource: JsonObject) {
    const [rootNode] = thisNode(resource) as ResourceNode[];
    this.rootElement = {
      node: rootNode,
      parent: undefined,
      loc: '',
      container: { '': resource },
      key: '',
      index: undefined,
      type: String(resource.resourceType),
      nested: false,
      isResource: true,
    };
    this.elements.set(rootNode, this.rootElement);
  }

  /** The element of a node from any evaluation on this resource; undefined when it is not in the JSON. */
  elementOf(node: ResourceNode): Element | undefined {
    const known = this.elements.get(node);
    if (known !== undefined) return known ?? undefined;
    // Each evaluation makes its own node for the resource itself.
    if (!node.parentResNode) return node.data === this.resource ? this.rootElement : undefined;
    const element = this.childElement(node, node.parentResNode);
    this.elements.set(node, element ?? null);
    return element;
  }

  private childElement(node: ResourceNode, parentNode: ResourceNode): Element | undefined {
    const parent = this.elementOf(parentNode);
    if (!parent || node.propName == null) return undefined;
    const parentValue = readValue(parent);
    let container: unknown = parentValue;
    if (!isJsonObject(parentValue)) {
      // An extension or id on a primitive lives in the `_name` companion of the primitive.
      const companion = parent.container[`_${parent.key}`];
      container =
        parent.index === undefined
          ? companion
          : Array.isArray(companion)
            ? companion[parent.index]
            : undefined;
    }
    if (!isJsonObject(container)) return undefined;
    const key = jsonKey(container, node.propName);
    if (key === undefined) return undefined;
    const index = node.index == null ? undefined : node.index;
    const isResource = isJsonObject(node.data) && typeof node.data.resourceType === 'string';
    return {
      node,
      parent,
      loc: `${parent.loc}.${key}${index === undefined ? '' : `[${index}]`}`,
      container,
      key,
      index,
      type: fhirType(node, key, parent),
      nested: parent.nested || isResource,
      isResource,
    };
  }

  /** Built once per resource, on first need, from one `descendants()` evaluation. */
  index(): ResourceIndex {
    this.indexCache ??= new ResourceIndex(this, descendantsOf);
    return this.indexCache;
  }

  /** A node is processed when it or an ancestor within this resource was reached by an earlier rule. */
  isProcessed(element: Element): boolean {
    for (let at: Element | undefined = element; at; at = at.parent) {
      if (this.processed.has(at.loc)) return true;
    }
    return false;
  }

  isMarked(element: Element): boolean {
    return this.processed.has(element.loc);
  }

  markProcessed(element: Element): void {
    this.processed.add(element.loc);
  }

  nodesByType(inputs: ResourceNode[], type: string): ResourceNode[] {
    return this.below(inputs, this.index().byType.get(type));
  }

  nodesByName(inputs: ResourceNode[], name: string): ResourceNode[] {
    return this.below(inputs, this.index().byName.get(name));
  }

  /** The candidates that are descendants of one of the inputs, each once, in document order. */
  private below(inputs: ResourceNode[], candidates: Element[] | undefined): ResourceNode[] {
    if (!candidates) return [];
    const prefixes = inputs.flatMap((input) => {
      const element = this.elementOf(input);
      return element && !element.nested ? [`${element.loc}.`] : [];
    });
    if (prefixes.includes('.')) return candidates.map((element) => element.node);
    return candidates
      .filter((element) => prefixes.some((prefix) => element.loc.startsWith(prefix)))
      .map((element) => element.node);
  }
}

/** Every element of a resource outside its nested resources, by parent, type and name. */
export class ResourceIndex {
  readonly children = new Map<string, Element[]>();
  readonly byType = new Map<string, Element[]>();
  readonly byName = new Map<string, Element[]>();
  /** The resources directly inside this one, with the element that holds each. */
  readonly nested: Element[] = [];

  constructor(scope: ResourceScope, descendants: CompiledExpression) {
    for (const node of descendants(scope.resource) as ResourceNode[]) {
      const element = scope.elementOf(node);
      if (!element) continue;
      if (element.isResource && element.parent && !element.parent.nested) this.nested.push(element);
      if (element.nested) continue;
      append(this.children, element.parent?.loc ?? '', element);
      if (element.type) append(this.byType, element.type, element);
      append(this.byName, element.key, element);
      if (node.propName && node.propName !== element.key) append(this.byName, node.propName, element);
    }
  }
}

function append(map: Map<string, Element[]>, key: string, element: Element): void {
  const list = map.get(key);
  if (list) list.push(element);
  else map.set(key, [element]);
}
