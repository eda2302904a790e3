/**
 * Removes what de-identification emptied: nulls written by redaction, and objects and arrays left
 * with nothing in them. A primitive array and its `_name` companion are filtered together so their
 * positions still match.
 */
import { isJsonObject, type JsonObject } from './nodes';

function isEmpty(value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (Array.isArray(value)) return value.length === 0;
  return isJsonObject(value) && Object.keys(value).length === 0;
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

export function removeEmptyNodes(object: JsonObject): void {
  const names = new Set(Object.keys(object).map((key) => (key.startsWith('_') ? key.slice(1) : key)));
  for (const name of names) cleanPair(object, name);
}
