/**
 * The index of a resource from one walk of its JSON, level by level as FHIRPath's `descendants()`
 * goes, with each node's type and model path from the R4 tables as FHIRPath computes them. JSON
 * that FHIRPath reads in ways of its own (a `_name` without `name`, a null property, nested arrays,
 * a companion on a complex value, a choice's bare base name, odd `resourceType`s) is declined: the
 * resource is then indexed and evaluated by FHIRPath alone, so both ways always agree.
 */
import { append, companionOf, isJsonObject, type Element, type JsonObject, type NodeIndex } from './nodes';
import { childInfo, fhirTypeName, type ChildInfo } from './r4Paths';

class Declined extends Error {}

const TYPE_NAME = /^[A-Z][A-Za-z]*$/;

function decline(): never {
  throw new Declined();
}

/** The properties a primitive's companion may hold that FHIRPath reads as the primitive's children. */
const COMPANION_KEYS = new Set(['id', 'extension']);

class Walk {
  readonly index: NodeIndex = { children: new Map(), byType: new Map(), byName: new Map(), nested: [] };
  private readonly queue: Element[] = [];

  constructor(root: Element, resource: JsonObject) {
    this.expandObject(root, resource);
    for (let at = 0; at < this.queue.length; at++) this.expand(this.queue[at]);
  }

  private expand(element: Element): void {
    const value = element.container[element.key];
    const item = element.index === undefined ? value : (value as unknown[])[element.index];
    if (isJsonObject(item)) this.expandObject(element, item);
    // FHIRPath holds numbers as decimals, which it does not look into: their companions stay unseen.
    else if (typeof item !== 'number') this.expandCompanion(element);
  }

  private expandObject(parent: Element, object: JsonObject): void {
    for (const key in object) {
      if (key === '__proto__') decline();
      if (key.charCodeAt(0) === 95 /* _ */) {
        if (!Object.prototype.hasOwnProperty.call(object, key.slice(1))) decline();
        continue;
      }
      if (key === 'resourceType') continue;
      const value = object[key];
      const companion = object[`_${key}`];
      const info = childInfo(parent.path as string, key);
      if (info.choice || value === null || value === undefined) decline();
      if (Array.isArray(value)) {
        if (companion !== undefined && !Array.isArray(companion)) decline();
        const extras = companion as unknown[] | undefined;
        const length = Math.max(value.length, extras?.length ?? 0);
        for (let i = 0; i < length; i++) {
          const item: unknown = value[i];
          const extra: unknown = extras?.[i];
          if (Array.isArray(item)) decline();
          if (extra !== undefined && extra !== null && (!isJsonObject(extra) || isJsonObject(item)))
            decline();
          this.add(parent, object, key, i, item, info);
        }
      } else {
        if (companion !== undefined && (!isJsonObject(companion) || isJsonObject(value))) decline();
        this.add(parent, object, key, undefined, value, info);
      }
    }
  }

  private expandCompanion(parent: Element): void {
    const companion = companionOf(parent);
    if (!isJsonObject(companion)) return;
    for (const key in companion) {
      if (!COMPANION_KEYS.has(key)) decline();
      const value = companion[key];
      const info = childInfo(parent.path as string, key);
      if (info.choice || value === null || value === undefined) decline();
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (Array.isArray(value[i])) decline();
          this.add(parent, companion, key, i, value[i], info);
        }
      } else {
        this.add(parent, companion, key, undefined, value, info);
      }
    }
  }

  private add(
    parent: Element,
    container: JsonObject,
    key: string,
    index: number | undefined,
    value: unknown,
    info: ChildInfo,
  ): void {
    let resourceType: string | undefined;
    if (isJsonObject(value) && value.resourceType !== undefined) {
      // FHIRPath reads any truthy resourceType as a resource; only real type names agree with that.
      if (typeof value.resourceType !== 'string' || !TYPE_NAME.test(value.resourceType)) decline();
      resourceType = value.resourceType;
    }
    const element: Element = {
      node: undefined,
      parent,
      loc: `${parent.loc}.${key}${index === undefined ? '' : `[${index}]`}`,
      container,
      key,
      index,
      type: fhirTypeName(resourceType ?? info.dataType, key, parent.isResource),
      path: resourceType ?? info.path,
      nested: resourceType !== undefined,
      isResource: resourceType !== undefined,
    };
    if (element.nested) {
      this.index.nested.push(element);
      return;
    }
    append(this.index.children, parent.loc, element);
    if (element.type) append(this.index.byType, element.type, element);
    append(this.index.byName, key, element);
    this.queue.push(element);
  }
}

/** The index of the resource whose root is `root`, or undefined when only FHIRPath may read it. */
export function jsonIndex(root: Element, resource: JsonObject): NodeIndex | undefined {
  if (typeof resource.resourceType !== 'string' || !TYPE_NAME.test(resource.resourceType)) return undefined;
  try {
    return new Walk(root, resource).index;
  } catch (error) {
    if (error instanceof Declined) return undefined;
    throw error;
  }
}
