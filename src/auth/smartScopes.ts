/**
 * SMART on FHIR scopes, as far as a system-level bulk export needs them.
 *
 * Understood forms (anything else is ignored, never an error):
 *   v1: `{context}/{Type|*}.{read|write|*}`             e.g. `system/Patient.read`, `system/*.*`
 *   v2: `{context}/{Type|*}.{c?r?u?d?s?}[?{query}]`     e.g. `system/*.rs`, `system/Observation.rs?category=x`
 * where context is `system`, `user` or `patient`.
 *
 * Export rules:
 *   - only `system/` scopes count; `user/` and `patient/` scopes never grant a system export;
 *   - v1 needs `read` or `*` (`write` alone does not grant reading);
 *   - v2 needs both `r` and `s`: an export is a search over everything of a type, so read-by-id
 *     alone (`.r`) is not enough, exactly as v1 `read` corresponds to v2 `rs`;
 *   - a v2 scope with query parameters only allows a filtered part of a type. This service does
 *     not apply such filters to an export, so such a scope grants nothing for export.
 * Reading back a job's status and files, and cancelling it, follow the same rule (jobAccess.ts).
 */
import { ForbiddenError } from './errors';

export type ScopeContext = 'system' | 'user' | 'patient';

export interface SmartScope {
  /** The scope string as it appeared in the token. */
  raw: string;
  context: ScopeContext;
  /** A resource type name, or `*` for every type. */
  resourceType: string;
  version: 1 | 2;
  /** May read resources by id. */
  read: boolean;
  /** May search. */
  search: boolean;
  /** May create, update or delete. */
  write: boolean;
  /** v2 only: the query string after `?`, when the scope is restricted. */
  query?: string;
}

const SCOPE_PATTERN = /^(system|user|patient)\/(\*|[A-Z][A-Za-z]{0,63})\.([^?]+)(?:\?(.*))?$/;
const V2_PERMISSIONS = /^c?r?u?d?s?$/;

/** Parses one scope; undefined for anything that is not a SMART resource scope. */
export function parseSmartScope(raw: string): SmartScope | undefined {
  const match = SCOPE_PATTERN.exec(raw);
  if (!match) return undefined;
  const [, context, resourceType, permissions, query] = match;
  const base = { raw, context: context as ScopeContext, resourceType };
  if (permissions === 'read' || permissions === 'write' || permissions === '*') {
    if (query !== undefined) return undefined; // v1 has no query form
    const read = permissions !== 'write';
    return { ...base, version: 1, read, search: read, write: permissions !== 'read' };
  }
  if (permissions.length === 0 || !V2_PERMISSIONS.test(permissions)) return undefined;
  return {
    ...base,
    version: 2,
    read: permissions.includes('r'),
    search: permissions.includes('s'),
    write: /[cud]/.test(permissions),
    ...(query !== undefined ? { query } : {}),
  };
}

/** Splits a space-separated scope string or collects an array of strings; anything else is []. */
function scopeValues(value: unknown): string[] {
  if (typeof value === 'string') return value.split(/\s+/).filter((s) => s.length > 0);
  if (Array.isArray(value)) {
    return value.flatMap((v) => (typeof v === 'string' ? v.split(/\s+/) : [])).filter((s) => s.length > 0);
  }
  return [];
}

/**
 * The scopes a token carries: the OAuth `scope` claim, Entra ID's `scp` (delegated scopes) and
 * `roles` (application roles, which is how Entra expresses client-credential permissions). Each
 * may be a space-separated string or an array. Duplicates are removed; order is kept.
 */
export function scopesFromClaims(claims: Record<string, unknown>): string[] {
  const all = [...scopeValues(claims.scope), ...scopeValues(claims.scp), ...scopeValues(claims.roles)];
  return [...new Set(all)];
}

/** Whether a parsed scope allows exporting every resource of its type. */
function grantsExport(scope: SmartScope): boolean {
  return scope.context === 'system' && scope.read && scope.search && scope.query === undefined;
}

/**
 * The resource types these scopes allow a system export of: `'*'` for all types, otherwise the
 * set of type names (empty when nothing is allowed).
 */
export function allowedTypes(scopes: readonly string[]): '*' | Set<string> {
  const types = new Set<string>();
  for (const raw of scopes) {
    const scope = parseSmartScope(raw);
    if (!scope || !grantsExport(scope)) continue;
    if (scope.resourceType === '*') return '*';
    types.add(scope.resourceType);
  }
  return types;
}

const MAX_NAMED_TYPES = 20;

/** The types of `types` that these scopes do not allow exporting (or reading back), each once. */
export function typesNotAllowed(scopes: readonly string[], types: readonly string[]): string[] {
  const allowed = allowedTypes(scopes);
  if (allowed === '*') return [];
  return [...new Set(types)].filter((t) => !allowed.has(t));
}

/**
 * A 403 that names up to 20 of the `missing` types after `what` (e.g. "The access token does not
 * allow exporting these resource types"), with the v2 scopes that would allow them as the hint.
 */
export function insufficientScope(what: string, missing: readonly string[]): ForbiddenError {
  const named = missing.slice(0, MAX_NAMED_TYPES).join(', ');
  const more = missing.length > MAX_NAMED_TYPES ? ` and ${missing.length - MAX_NAMED_TYPES} more` : '';
  return new ForbiddenError(
    `${what}: ${named}${more}.`,
    missing
      .slice(0, MAX_NAMED_TYPES)
      .map((t) => `system/${t}.rs`)
      .join(' '),
  );
}

/** The 403 for a token without any system-level read scope. */
export function noSystemReadScope(): ForbiddenError {
  return new ForbiddenError(
    'The access token grants no system-level read scope (e.g. system/*.read or system/*.rs).',
    'system/*.read system/*.rs',
  );
}

/**
 * Throws ForbiddenError unless the scopes allow exporting every one of `types`: the types the export
 * will write (see `typesToExport`: its `_type` list, or every type it covers without one).
 */
export function assertCanExport(scopes: readonly string[], types: readonly string[]): void {
  const allowed = allowedTypes(scopes);
  if (allowed === '*') return;
  if (allowed.size === 0) throw noSystemReadScope();
  const missing = typesNotAllowed(scopes, types);
  if (missing.length > 0)
    throw insufficientScope('The access token does not allow exporting these resource types', missing);
}
