/**
 * The R4 model's tables as FHIRPath reads them when it steps from a node to a child: the child's
 * model path (which types its own children), its FHIR type, and whether the name is the base of a
 * choice (`value` for `valueQuantity`). The JSON walker and the direct rule paths use these so
 * their nodes carry exactly the types and paths FHIRPath would give.
 */
import { R4_MODEL } from './fhirpath';

interface ModelTables {
  path2Type: Record<string, string | undefined>;
  path2TypeWithoutElements: Record<string, string | undefined>;
  choiceTypePaths: Record<string, string[] | undefined>;
  pathsDefinedElsewhere: Record<string, string | undefined>;
}

const tables = R4_MODEL as unknown as ModelTables;

export interface ChildInfo {
  /** The child node's path, as its own children are looked up from. */
  readonly path: string;
  /** FHIRPath's data type of the child (`HumanName`, `System.String`), if the model knows it. */
  readonly dataType: string | undefined;
  /** For a choice base name: the type suffixes in the order FHIRPath tries them. */
  readonly choice: readonly string[] | undefined;
}

/** Keys come from the data, so the memo is capped: a stream of unknown names must not grow it forever. */
const MAX_MEMO = 50_000;
const memo = new Map<string, Map<string, ChildInfo>>();
let memoSize = 0;

function compute(parentPath: string, key: string): ChildInfo {
  let path = `${parentPath}.${key}`;
  path = tables.pathsDefinedElsewhere[path] || path;
  const choice = tables.choiceTypePaths[path];
  if (choice) return { path, dataType: undefined, choice };
  // FHIRPath types every `extension` from the Extension definition, whatever holds it.
  if (key === 'extension') path = 'Extension';
  const dataType = tables.path2Type[path] || undefined;
  return { path: tables.path2TypeWithoutElements[path] || path, dataType, choice: undefined };
}

export function childInfo(parentPath: string, key: string): ChildInfo {
  let byKey = memo.get(parentPath);
  let info = byKey?.get(key);
  if (info) return info;
  info = compute(parentPath, key);
  if (memoSize < MAX_MEMO) {
    if (!byKey) memo.set(parentPath, (byKey = new Map()));
    byKey.set(key, info);
    memoSize++;
  }
  return info;
}

/**
 * The JSON property FHIRPath reads for `name` on an object at `parentPath`: `name` itself, or for a
 * choice the first `name` + type present (with its value or its `_` companion); undefined if none.
 */
export function memberKey(
  parentPath: string,
  name: string,
  data: Record<string, unknown>,
): string | undefined {
  const { choice } = childInfo(parentPath, name);
  if (!choice) return name;
  for (const suffix of choice) {
    const field = name + suffix;
    if (data[field] !== undefined || data[`_${field}`] !== undefined) return field;
  }
  return undefined;
}

/** The anonymizer's name for a FHIRPath data type: System types in lower case (`System.String` → `string`). */
export function fhirTypeName(
  dataType: string | undefined,
  key: string,
  parentIsResource: boolean,
): string | undefined {
  // The R4 model types Resource.id as a plain string; the anonymizer sees an `id`.
  if (key === 'id' && parentIsResource) return 'id';
  if (dataType === undefined && (key === 'extension' || key === 'modifierExtension')) return 'Extension';
  return dataType?.startsWith('System.') ? dataType.slice('System.'.length).toLowerCase() : dataType;
}
