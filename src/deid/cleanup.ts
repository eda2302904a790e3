/**
 * Removes what de-identification emptied: nulls written by redaction, and objects and arrays left
 * with nothing in them. A primitive array and its `_name` companion are filtered together so their
 * positions still match.
 */
import { isJsonObject, type JsonObject } from './nodes';

function hasNoKeys(object: JsonObject): boolean {
  for (const key in object) if (Object.prototype.hasOwnProperty.call(object, key)) return false;
  return true;
}

function isEmpty(value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (Array.isArray(value)) return value.length === 0;
  return isJsonObject(value) && hasNoKeys(value);
}

function clean(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clean);
  if (isJsonObject(value)) removeEmptyNodes(value);
  return value;
}

function cleanPair(object: JsonObject, key: string): void {
  const companionKey = `_${key}`;
  const value = clean(object[key]);
  const companion = clean(object[companionKey]);
  if (Array.isArray(value) || Array.isArray(companion)) {
    const values = Array.isArray(value) ? value : [];
    const extras = Array.isArray(companion) ? companion : [];
    const keep = Array.from({ length: Math.max(values.length, extras.length) }, (_, i) => i).filter(
      (i) => !isEmpty(values[i]) || !isEmpty(extras[i]),
    );
    const anyExtras = keep.some((i) => !isEmpty(extras[i]));
    object[key] = keep.map((i) => values[i] ?? null);
    object[companionKey] = anyExtras ? keep.map((i) => (isEmpty(extras[i]) ? null : extras[i])) : [];
    if (keep.every((i) => isEmpty(values[i]))) delete object[key];
  } else {
    object[key] = value;
    object[companionKey] = companion;
  }
  if (isEmpty(object[key])) delete object[key];
  if (isEmpty(object[companionKey])) delete object[companionKey];
}

/** A property without a companion: its empty items go, then the property itself if it is empty. */
function cleanSingle(object: JsonObject, name: string): void {
  const value = object[name];
  if (Array.isArray(value)) {
    const kept: unknown[] = [];
    for (const item of value) {
      const cleaned = clean(item);
      if (!isEmpty(cleaned)) kept.push(cleaned);
    }
    if (kept.length === 0) delete object[name];
    else object[name] = kept;
    return;
  }
  clean(value);
  if (isEmpty(value)) delete object[name];
}

export function removeEmptyNodes(object: JsonObject): void {
  // A property and its `_name` companion are cleaned together, once, where the first of them stands.
  let paired: Set<string> | undefined;
  for (const key of Object.keys(object)) {
    const companion = key.charCodeAt(0) === 95; /* _ */
    const name = companion ? key.slice(1) : key;
    if (paired?.has(name)) continue;
    if (companion || object[`_${name}`] !== undefined) {
      (paired ??= new Set()).add(name);
      cleanPair(object, name);
    } else {
      cleanSingle(object, name);
    }
  }
}
