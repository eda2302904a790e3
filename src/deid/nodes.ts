/**
 * Where the nodes of one resource live in its JSON. Each node is an `Element` that knows the object
 * holding its value, the property and the array index, so a method changes the JSON in place. An
 * element's location (`.name[0].given[1]`) names it across rule evaluations, which build new
 * FHIRPath `ResourceNode`s each time.
 */
import { compileExpression, type NodeLookup, type ResourceNode } from './fhirpath';
import { fhirTypeName } from './r4Paths';

export type JsonObject = Record<string, unknown>;

export interface Element {
  /** Its FHIRPath node; made on first need for an element the JSON walk found. */
  node: ResourceNode | undefined;
  readonly parent: Element | undefined;
  /** The path from the resource: `.name[0].given[1]`; the resource itself is ''. */
  readonly loc: string;
  /** The object that holds the value (for an extension on a primitive, the `_name` object). */
  readonly container: JsonObject;
  readonly key: string;
  readonly index: number | undefined;
  /** The FHIR type: `HumanName`, `date`, `id`, … */
  readonly type: string | undefined;
  /** The model path FHIRPath gives the node (`HumanName`, `Patient.contact`); set by the JSON walk. */
  readonly path: string | undefined;
  /** A resource inside the evaluated one (contained, a Bundle entry), or a node inside such a resource. */
  readonly nested: boolean;
  readonly isResource: boolean;
}

/** Every element of a resource outside its nested resources, by parent, type and name. */
export interface NodeIndex {
  /** By the parent's `loc`, in document order. */
  readonly children: Map<string, Element[]>;
  /** By type and by property name, each in the order of FHIRPath's `descendants()` (level by level). */
  readonly byType: Map<string, Element[]>;
  readonly byName: Map<string, Element[]>;
  /** The resources directly inside this one, with the element that holds each. */
  readonly nested: Element[];
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

/** The `_name` companion that holds the id and extensions of a primitive element. */
export function companionOf(element: Element): unknown {
  const companion = element.container[`_${element.key}`];
  if (element.index === undefined) return companion;
  return Array.isArray(companion) ? companion[element.index] : undefined;
}

export function append(map: Map<string, Element[]>, key: string, element: Element): void {
  const list = map.get(key);
  if (list) list.push(element);
  else map.set(key, [element]);
}

/** The JSON property of a node: FHIRPath drops the type suffix of a choice (`value` for `valueQuantity`). */
export function jsonKey(container: JsonObject, propName: string): string | undefined {
  if (propName in container) return propName;
  return Object.keys(container).find(
    (key) => key.length > propName.length && key.startsWith(propName) && /[A-Z]/.test(key[propName.length]),
  );
}

const thisNode = compileExpression('$this');
const childrenOf = compileExpression('children()');

/** Builds the index of a resource; the scope passes itself so the builder can resolve nodes. */
export type IndexBuilder = (scope: ResourceScope) => NodeIndex;

/** Indexes a resource by walking its JSON from its root element; undefined when it declines. */
export type JsonWalker = (root: Element, resource: JsonObject) => NodeIndex | undefined;

/** One resource being de-identified: its elements, its index by type and name, what has been processed. */
export class ResourceScope implements NodeLookup {
  private readonly elements = new WeakMap<ResourceNode, Element | null>();
  private readonly processed = new Set<string>();
  private readonly childNodes = new Map<Element, ResourceNode[]>();
  private indexCache: NodeIndex | undefined;
  readonly rootElement: Element;
  /** Whether the index comes from the JSON walk, so rule plans may read it directly. */
  readonly direct: boolean;

  /** With `walk`, the index is made now by walking the JSON; otherwise by `build` on first need. */
  constructor(
    readonly resource: JsonObject,
    private readonly build: IndexBuilder,
    walk?: JsonWalker,
  ) {
    const type = String(resource.resourceType);
    this.rootElement = {
      node: undefined,
      parent: undefined,
      loc: '',
      container: { '': resource },
      key: '',
      index: undefined,
      type,
      path: type,
      nested: false,
      isResource: true,
    };
    this.indexCache = walk?.(this.rootElement, resource);
    this.direct = this.indexCache !== undefined;
  }

  /** The element of a node from any evaluation on this resource; undefined when it is not in the JSON. */
  elementOf(node: ResourceNode): Element | undefined {
    const known = this.elements.get(node);
    if (known !== undefined) return known ?? undefined;
    // Each evaluation makes its own node for the resource itself; any of them serves as the root's.
    if (!node.parentResNode) {
      if (node.data !== this.resource) return undefined;
      this.rootElement.node ??= node;
      return this.rootElement;
    }
    const element = this.childElement(node, node.parentResNode);
    this.elements.set(node, element ?? null);
    return element;
  }

  /**
   * The FHIRPath node of an element, for the evaluations that need one (`where`, `generalize`):
   * the same node FHIRPath's `children()` makes for it, from its parent's.
   */
  nodeOf(element: Element): ResourceNode {
    if (element.node) return element.node;
    let node: ResourceNode | undefined;
    if (!element.parent) {
      [node] = thisNode(this.resource) as ResourceNode[];
    } else {
      const parent = element.parent;
      let siblings = this.childNodes.get(parent);
      if (!siblings) {
        siblings = childrenOf(this.nodeOf(parent)) as ResourceNode[];
        this.childNodes.set(parent, siblings);
      }
      const index = element.index ?? null;
      node = siblings.find((sibling) => sibling.propName === element.key && sibling.index === index);
    }
    if (!node) throw new Error('an element of the index has no FHIRPath node');
    element.node = node;
    this.elements.set(node, element);
    return node;
  }

  private childElement(node: ResourceNode, parentNode: ResourceNode): Element | undefined {
    const parent = this.elementOf(parentNode);
    if (!parent || node.propName == null) return undefined;
    const parentValue = readValue(parent);
    // An extension or id on a primitive lives in the `_name` companion of the primitive.
    const container = isJsonObject(parentValue) ? parentValue : companionOf(parent);
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
      type: fhirTypeName(node.fhirNodeDataType ?? undefined, key, parent.isResource),
      path: undefined,
      nested: parent.nested || isResource,
      isResource,
    };
  }

  /** Built once per resource, on first need. */
  index(): NodeIndex {
    this.indexCache ??= this.build(this);
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
    return this.nodesOf(this.inputElements(inputs), this.index().byType.get(type));
  }

  nodesByName(inputs: ResourceNode[], name: string): ResourceNode[] {
    return this.nodesOf(this.inputElements(inputs), this.index().byName.get(name));
  }

  private nodesOf(inputs: Element[], candidates: Element[] | undefined): ResourceNode[] {
    return below(inputs, candidates).map((element) => this.nodeOf(element));
  }

  private inputElements(inputs: ResourceNode[]): Element[] {
    return inputs.flatMap((input) => {
      const element = this.elementOf(input);
      return element && !element.nested ? [element] : [];
    });
  }
}

/** The candidates that are descendants of one of the inputs (none nested), each once, in their order. */
export function below(inputs: readonly Element[], candidates: Element[] | undefined): Element[] {
  if (!candidates || inputs.length === 0) return [];
  if (inputs.some((input) => input.loc === '')) return candidates;
  const prefixes = inputs.map((input) => `${input.loc}.`);
  return candidates.filter((element) => prefixes.some((prefix) => element.loc.startsWith(prefix)));
}
