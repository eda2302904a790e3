/**
 * `SearchSource` over FHIR resources kept as documents in a Cosmos DB container.
 *
 * Container layout (what `CosmosResourceWriter` writes):
 * - partition key `/resourceType`; one document per current version of a resource;
 * - the document is the FHIR JSON itself, `id` being the FHIR id (unique within its type's partition);
 *   no extra fields are added, so a document minus Cosmos' system properties is the resource;
 * - `meta.lastUpdated` is stored as a UTC instant in `Date.toISOString()` form
 *   (`2024-05-01T10:20:30.123Z`). `_lastUpdated` windows are string comparisons on it, which order
 *   correctly only because every value has that one form; the writer guarantees it.
 *
 * Paging: one parameterised single-partition query per type, `ORDER BY c.meta.lastUpdated`,
 * `maxItemCount = count`, resumed from Cosmos' own continuation token (also in a fresh instance).
 *
 * Patient compartment (`patients`): Patient by id; other types by their main patient reference
 * (see `PATIENT_REFERENCE_FIELDS`); references must have the relative form `Patient/{id}`.
 *
 * `_typeFilter` subset (anything else is a `BadRequestError`): each filter is `name=value` pairs joined
 * by `&` (AND-ed; filters are OR-ed), without modifiers or prefixes. Values may list alternatives
 * separated by commas (OR). Names:
 * - `_id=id[,id]`;
 * - `status=code[,code]` for types with a `status` code (see `STATUS_TYPES`);
 * - `code=system|code`, `code=code` or `code=system|` on the type's main CodeableConcept (see
 *   `CODE_FIELDS`; Immunization uses `vaccine-code`); `system|` matches any code of the system. The
 *   form `|code` (no system) is refused.
 *
 * `listResourceTypes` probes each known type's partition with `SELECT TOP 1` (the emulator has no
 * DISTINCT or GROUP BY; on Cosmos DB each probe is a cheap single-partition read).
 */
import { Container, CosmosClient, FeedOptions, SqlParameter, SqlQuerySpec } from '@azure/cosmos';
import { BadRequestError, SourceError } from '../export/errors';
import { R4_RESOURCE_TYPES } from '../export/fhirResourceTypes';
import { instantMs, utcInstant } from '../export/instant';
import { ensureContainer } from '../jobs/cosmosClient';
import { cosmosStatusOf, withoutSystemProperties } from '../jobs/cosmosDocuments';
import type { SearchPage, SearchParameters, SearchSource, SourceDescription } from './searchSource';
import { mapWithConcurrency } from '../util/concurrency';

/** Partition key path of a resource container. */
export const RESOURCES_PARTITION_KEY_PATH = '/resourceType';

/** The reference element that puts a resource of a type into a patient's compartment. */
export const PATIENT_REFERENCE_FIELDS: Readonly<Record<string, string>> = {
  Encounter: 'subject',
  Observation: 'subject',
  Condition: 'subject',
  Procedure: 'subject',
  MedicationRequest: 'subject',
  Immunization: 'patient',
  AllergyIntolerance: 'patient',
  DiagnosticReport: 'subject',
  CarePlan: 'subject',
  Claim: 'patient',
  ExplanationOfBenefit: 'patient',
};

/**
 * The Patient compartment as this source can select it: Patient itself and the types with a known
 * patient reference. Patient and Group exports are limited to these types.
 */
export const COSMOS_COMPARTMENT_TYPES: readonly string[] = Object.freeze(
  ['Patient', ...Object.keys(PATIENT_REFERENCE_FIELDS)].sort(),
);

/** Types whose `status` search parameter is the `status` code element. */
export const STATUS_TYPES: ReadonlySet<string> = new Set([
  'Encounter',
  'Observation',
  'Procedure',
  'MedicationRequest',
  'Immunization',
  'DiagnosticReport',
  'CarePlan',
  'Claim',
  'ExplanationOfBenefit',
]);

/** The CodeableConcept element that a type's `code` search parameter (or alias) searches. */
export const CODE_FIELDS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  Observation: { code: 'code' },
  Condition: { code: 'code' },
  Procedure: { code: 'code' },
  AllergyIntolerance: { code: 'code' },
  DiagnosticReport: { code: 'code' },
  MedicationRequest: { code: 'medicationCodeableConcept' },
  Immunization: { 'vaccine-code': 'vaccineCode' },
};

const RESOURCE_TYPE_PATTERN = /^[A-Z][A-Za-z]{1,63}$/;

export interface CosmosSearchSourceOptions {
  /** Types probed by `listResourceTypes`; default: every R4 type. */
  knownResourceTypes?: Iterable<string>;
  /** Parallel probes in `listResourceTypes`; default 8. */
  probeConcurrency?: number;
}

/**
 * The bound as the stored form (milliseconds, `Z`), rounded the way that keeps the comparison exact
 * for an instant with finer digits: up for `>=` and `<`, down for `<=`.
 */
function canonicalInstant(name: string, value: string, rounding: 'down' | 'up'): string {
  if (utcInstant(value) === undefined) throw new BadRequestError(`${name} is not a valid instant: ${value}`);
  return new Date(instantMs(value, rounding)).toISOString();
}

/** Maps errors from the Cosmos SDK to `SourceError` (transient for throttling, 5xx, timeouts). */
export function toSourceError(err: unknown): unknown {
  if (err instanceof BadRequestError || err instanceof SourceError) return err;
  const e = (err ?? {}) as {
    code?: unknown;
    statusCode?: unknown;
    message?: string;
    retryAfterInMs?: number;
  };
  const status = cosmosStatusOf(err);
  const message = `Cosmos DB source: ${e.message ?? 'request failed'}`.slice(0, 500);
  const retryAfter = e.retryAfterInMs ? Math.ceil(e.retryAfterInMs / 1000) : undefined;
  if (status === 429) return new SourceError(message, 429, true, retryAfter);
  if (status === 408 || (status !== undefined && status >= 500))
    return new SourceError(message, status, true, retryAfter);
  if (status === 400 || status === 401 || status === 403 || status === 404)
    return new SourceError(message, status, false);
  if (typeof e.code === 'string' && /^(ECONN|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EPIPE|ERR_SOCKET)/.test(e.code)) {
    return new SourceError(message, 503, true);
  }
  return err;
}

class QueryBuilder {
  readonly where: string[] = [];
  readonly parameters: SqlParameter[] = [];
  private n = 0;

  param(value: SqlParameter['value']): string {
    const name = `@p${this.n++}`;
    this.parameters.push({ name, value });
    return name;
  }
}

function splitValues(name: string, raw: string): string[] {
  const values = raw.split(',').map((v) => v.trim());
  if (values.some((v) => v === ''))
    throw new BadRequestError(`_typeFilter parameter ${name} has an empty value`);
  return values;
}

function codeCondition(q: QueryBuilder, field: string, token: string): string {
  const bar = token.indexOf('|');
  const coding: Record<string, string> = {};
  if (bar < 0) {
    coding.code = token;
  } else {
    const system = token.slice(0, bar);
    const code = token.slice(bar + 1);
    if (system) coding.system = system;
    if (code) coding.code = code;
    if (!system && !code)
      throw new BadRequestError('_typeFilter code value "|" names neither system nor code');
    if (!system) {
      // `|code` (a coding without a system) needs a subquery the local emulator cannot evaluate.
      throw new BadRequestError(
        '_typeFilter code values of the form "|code" are not supported',
        'not-supported',
      );
    }
  }
  return `ARRAY_CONTAINS(c.${field}.coding, ${q.param(coding)}, true)`;
}

/** Translates one `_typeFilter` query string to a SQL condition; throws for anything outside the subset. */
function typeFilterCondition(q: QueryBuilder, resourceType: string, filter: string): string {
  const query = filter.startsWith('?') ? filter.slice(1) : filter;
  if (!query) throw new BadRequestError(`Empty _typeFilter for ${resourceType}`);
  const parts: string[] = [];
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    if (eq <= 0)
      throw new BadRequestError(`_typeFilter for ${resourceType} has a malformed parameter "${pair}"`);
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent(pair.slice(0, eq));
      value = decodeURIComponent(pair.slice(eq + 1));
    } catch {
      throw new BadRequestError(`_typeFilter for ${resourceType} is not correctly URL-encoded`);
    }
    const unsupported = (): never => {
      throw new BadRequestError(
        `_typeFilter parameter "${name}" is not supported for ${resourceType} by this server (supported: _id, status, code)`,
        'not-supported',
      );
    };
    if (name.includes(':') || name.includes('.')) unsupported();
    const values = splitValues(name, value);
    if (name === '_id') {
      parts.push(`ARRAY_CONTAINS(${q.param(values)}, c.id)`);
    } else if (name === 'status') {
      if (!STATUS_TYPES.has(resourceType)) unsupported();
      parts.push(`ARRAY_CONTAINS(${q.param(values)}, c.status)`);
    } else if (CODE_FIELDS[resourceType]?.[name]) {
      const field = CODE_FIELDS[resourceType][name];
      const alternatives = values.map((v) => codeCondition(q, field, v));
      parts.push(alternatives.length === 1 ? alternatives[0] : `(${alternatives.join(' OR ')})`);
    } else {
      unsupported();
    }
  }
  return parts.length === 1 ? parts[0] : `(${parts.join(' AND ')})`;
}

/** The SQL query for one type and set of search parameters (exported for tests and diagnostics). */
export function buildSearchQuery(resourceType: string, params: SearchParameters): SqlQuerySpec {
  const q = new QueryBuilder();
  // Redundant with the partition key on Cosmos DB; the emulator ignores a query's partition key.
  q.where.push(`c.resourceType = ${q.param(resourceType)}`);
  const until = canonicalInstant('until', params.until, 'down');
  q.where.push(`c.meta.lastUpdated <= ${q.param(until)}`);
  if (params.since)
    q.where.push(`c.meta.lastUpdated >= ${q.param(canonicalInstant('since', params.since, 'up'))}`);
  if (params.before)
    q.where.push(`c.meta.lastUpdated < ${q.param(canonicalInstant('before', params.before, 'up'))}`);
  if (params.patients) {
    const ids = params.patients.map((ref) => {
      const m = /^Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(ref);
      if (!m) throw new BadRequestError(`Patient reference ${ref} must have the form Patient/{id}`);
      return m[1];
    });
    if (resourceType === 'Patient') {
      q.where.push(`ARRAY_CONTAINS(${q.param(ids)}, c.id)`);
    } else {
      const field = PATIENT_REFERENCE_FIELDS[resourceType];
      if (!field) {
        throw new BadRequestError(
          `${resourceType} is not supported in a patient compartment export`,
          'not-supported',
        );
      }
      q.where.push(`ARRAY_CONTAINS(${q.param(ids.map((id) => `Patient/${id}`))}, c.${field}.reference)`);
    }
  } else if (params.patientCompartmentOnly && resourceType !== 'Patient') {
    // Every patient's compartment: the patient reference points at some Patient.
    const field = PATIENT_REFERENCE_FIELDS[resourceType];
    if (!field) {
      throw new BadRequestError(
        `${resourceType} is not supported in a patient compartment export`,
        'not-supported',
      );
    }
    q.where.push(`STARTSWITH(c.${field}.reference, ${q.param('Patient/')})`);
  }
  if (params.typeFilters.length > 0) {
    const alternatives = params.typeFilters.map((f) => typeFilterCondition(q, resourceType, f));
    q.where.push(alternatives.length === 1 ? alternatives[0] : `(${alternatives.join(' OR ')})`);
  }
  return {
    query: `SELECT * FROM c WHERE ${q.where.join(' AND ')} ORDER BY c.meta.lastUpdated`,
    parameters: q.parameters,
  };
}

function checkType(resourceType: string): void {
  if (!RESOURCE_TYPE_PATTERN.test(resourceType))
    throw new BadRequestError(`Invalid resource type ${resourceType}`);
}

export class CosmosSearchSource implements SearchSource {
  checkTypeFilter(resourceType: string, query: string): void {
    typeFilterCondition(new QueryBuilder(), resourceType, query);
  }

  private readonly knownTypes: string[];
  private readonly probeConcurrency: number;

  constructor(
    readonly container: Container,
    options: CosmosSearchSourceOptions = {},
  ) {
    this.knownTypes = [...(options.knownResourceTypes ?? R4_RESOURCE_TYPES)].sort();
    this.probeConcurrency = options.probeConcurrency ?? 8;
  }

  async listResourceTypes(): Promise<string[]> {
    const holds = async (type: string): Promise<boolean> => {
      const { resources } = await this.container.items
        .query<string>(
          {
            query: 'SELECT TOP 1 VALUE c.id FROM c WHERE c.resourceType = @type',
            parameters: [{ name: '@type', value: type }],
          },
          { partitionKey: type, maxItemCount: 1 },
        )
        .fetchNext();
      return resources.length > 0;
    };
    try {
      const held = await mapWithConcurrency(this.knownTypes, this.probeConcurrency, holds);
      return this.knownTypes.filter((_, i) => held[i]);
    } catch (err) {
      throw toSourceError(err);
    }
  }

  async search(
    resourceType: string,
    params: SearchParameters,
    continuationToken?: string,
  ): Promise<SearchPage> {
    checkType(resourceType);
    if (!Number.isInteger(params.count) || params.count < 1)
      throw new BadRequestError('count must be a positive integer');
    const spec = buildSearchQuery(resourceType, params);
    const options: FeedOptions = {
      partitionKey: resourceType,
      maxItemCount: params.count,
      continuationToken,
    };
    try {
      // The first page also counts the matches (one aggregate in the same partition), so that the
      // status can report an honest percentage.
      const total = continuationToken ? undefined : await this.count(spec, resourceType);
      const iterator = this.container.items.query<Record<string, unknown>>(spec, options);
      // The service may answer a page with no items but a continuation; follow it a few times.
      for (let attempt = 0; ; attempt++) {
        const response = await iterator.fetchNext();
        const resources = response.resources.map((doc) => JSON.stringify(withoutSystemProperties(doc)));
        const nextToken = response.hasMoreResults ? response.continuationToken : undefined;
        if (resources.length > 0 || !nextToken || attempt >= 10)
          return { resources, nextToken: nextToken || undefined, total };
      }
    } catch (err) {
      throw toSourceError(err);
    }
  }

  /**
   * COUNT of the search's matches and, above `spanAbove`, the first and last `meta.lastUpdated`
   * (`TOP 1 … ORDER BY` both ways: the local emulator has no MIN/MAX, and on Cosmos DB each is a
   * single-partition index lookup).
   */
  async describe(resourceType: string, params: SearchParameters, spanAbove = 0): Promise<SourceDescription> {
    checkType(resourceType);
    const spec = buildSearchQuery(resourceType, params);
    try {
      const total = await this.count(spec, resourceType);
      if (total <= spanAbove || total === 0) return { total };
      const [earliest, latest] = await Promise.all(
        ['', ' DESC'].map(async (direction) => {
          const query = spec.query
            .replace(/^SELECT \* FROM c/, 'SELECT TOP 1 VALUE c.meta.lastUpdated FROM c')
            .replace(/ ORDER BY .*$/, ` ORDER BY c.meta.lastUpdated${direction}`);
          const { resources } = await this.container.items
            .query<unknown>({ query, parameters: spec.parameters }, { partitionKey: resourceType })
            .fetchAll();
          const value = resources[0];
          return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? value : undefined;
        }),
      );
      return { total, earliest, latest };
    } catch (err) {
      throw toSourceError(err);
    }
  }

  /** How many resources `spec` matches (its WHERE clause, without the ordering). */
  private async count(spec: SqlQuerySpec, resourceType: string): Promise<number> {
    const query = spec.query
      .replace(/^SELECT \* FROM c/, 'SELECT VALUE COUNT(1) FROM c')
      .replace(/ ORDER BY .*$/, '');
    const { resources } = await this.container.items
      .query<number>({ query, parameters: spec.parameters }, { partitionKey: resourceType })
      .fetchAll();
    // An aggregate may come back as one partial count per partition range.
    return resources.reduce((sum, n) => sum + n, 0);
  }

  async read(resourceType: string, id: string): Promise<Record<string, unknown> | undefined> {
    checkType(resourceType);
    try {
      const { resource } = await this.container.item(id, resourceType).read<Record<string, unknown>>();
      return resource ? withoutSystemProperties(resource) : undefined;
    } catch (err) {
      if (cosmosStatusOf(err) === 404) return undefined;
      throw toSourceError(err);
    }
  }
}

/** Creates the database and container if missing and returns a source on them. */
export async function createCosmosSearchSource(
  client: CosmosClient,
  databaseId: string,
  containerId: string,
  options?: CosmosSearchSourceOptions,
): Promise<CosmosSearchSource> {
  const container = await ensureContainer(client, databaseId, containerId, RESOURCES_PARTITION_KEY_PATH);
  return new CosmosSearchSource(container, options);
}
