/**
 * Turns a Bulk Data kick-off request (GET query or POST `Parameters`) into a validated
 * `ExportRequest`. Every rejection is a `BadRequestError` that names the offending input; under
 * `Prefer: handling=lenient` the parameters the spec lets a server ignore are dropped with a warning.
 */
import { clip } from '../util/clientText';
import { isContainerAllowed, isValidContainerName, type ContainerPolicy } from '../destination/containerName';
import { ANONYMIZATION_PARAMETERS, parseAnonymization } from './anonymizationRequest';
import { booleanParameter } from './booleanParameter';
import { BadRequestError } from './errors';
import { isR4ResourceType } from './fhirResourceTypes';
import { ORGANIZE_OUTPUT_BY, parseOrganizeOutputBy } from './organizeOutputBy';
import { compareInstants, utcInstant } from './instant';
import type { ExportLevel, ExportRequest } from './model';

export interface KickoffInput {
  method: string;
  level: ExportLevel;
  groupId?: string;
  /** The full request URL. */
  url: string;
  headers: { get(name: string): string | null };
  /** Raw body text of a POST. */
  body?: string;
}

export interface KickoffOptions {
  /** Types in the Patient compartment (plus Patient itself); Patient and Group exports are limited to them. */
  compartmentTypes: ReadonlySet<string>;
  /** The containers `_container` may name. */
  containers: ContainerPolicy;
}

export interface ParsedKickoff {
  request: ExportRequest;
  lenient: boolean;
  /** `Cache-Control: no-cache`: never reuse a running job for this request. */
  noCache: boolean;
  /** What lenient handling ignored, for the client's information. */
  warnings: string[];
}

const FHIR_JSON_ACCEPTS = new Set(['application/fhir+json', 'application/json', 'application/*', '*/*']);
const OUTPUT_FORMATS = new Set(['application/fhir+ndjson', 'application/ndjson', 'ndjson']);
/** The kick-off parameters this server understands. */
export const KNOWN_PARAMETERS: ReadonlySet<string> = new Set([
  '_outputFormat',
  '_since',
  '_until',
  '_type',
  '_typeFilter',
  '_elements',
  'includeAssociatedData',
  'patient',
  '_container',
  ...ANONYMIZATION_PARAMETERS,
  'allowPartialManifests',
  ORGANIZE_OUTPUT_BY,
]);
/** Search parameters that change the shape of a result set rather than select resources. */
export const FORBIDDEN_FILTER_PARAMETERS: ReadonlySet<string> = new Set([
  '_offset',
  '_include',
  '_revinclude',
  '_sort',
  '_count',
  '_elements',
  '_summary',
  '_contained',
  '_containedType',
  '_total',
  '_format',
]);
// A FHIR instant: full date and time with a zone. Partial dates are not instants.
const INSTANT =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,9})?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00))$/;
const ELEMENT = /^([A-Z][A-Za-z]+\.)?[a-z][A-Za-z0-9]*(\[x\])?$/;
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const MAX_PARAMETER_VALUES = 1000;

type RawParameters = Map<string, string[]>;

export function parseKickoff(input: KickoffInput, options: KickoffOptions): ParsedKickoff {
  const prefer = parsePrefer(input.headers.get('prefer'));
  const lenient = prefer.handling === 'lenient';
  const warnings: string[] = [];

  if (!prefer.respondAsync) {
    throw new BadRequestError('The Prefer header must include respond-async.', 'required');
  }
  for (const preference of prefer.unknown) {
    if (!lenient) throw new BadRequestError(`Prefer ${clip(preference)} is not supported.`, 'not-supported');
    warnings.push(`Ignored Prefer ${clip(preference)}.`);
  }
  const accept = input.headers.get('accept');
  // A missing Accept is taken as application/fhir+json (the IG lets a server do so).
  if (accept && !acceptsFhirJson(accept)) {
    throw new BadRequestError('The Accept header must be application/fhir+json.', 'not-supported');
  }
  if (input.level === 'group' && (!input.groupId || !FHIR_ID.test(input.groupId))) {
    throw new BadRequestError('The group id is not a valid FHIR id.');
  }

  const raw = collectParameters(input);
  for (const name of raw.keys()) {
    if (!KNOWN_PARAMETERS.has(name)) {
      if (!lenient)
        throw new BadRequestError(`The parameter ${clip(name)} is not supported.`, 'not-supported');
      warnings.push(`Ignored unsupported parameter ${clip(name)}.`);
      raw.delete(name);
    }
  }

  const outputFormat = single(raw, '_outputFormat');
  if (outputFormat !== undefined && !OUTPUT_FORMATS.has(outputFormat)) {
    throw new BadRequestError(
      `_outputFormat ${clip(outputFormat)} is not supported; use application/fhir+ndjson.`,
    );
  }

  const since = instant(raw, '_since');
  const until = instant(raw, '_until');
  if (since && until && compareInstants(since, until) > 0) {
    throw new BadRequestError('_since is later than _until.');
  }

  const compartmentOnly = input.level !== 'system';
  const types = parseTypes(raw, compartmentOnly, options, lenient, warnings);
  const typeFilters = parseTypeFilters(raw, types, compartmentOnly, options);
  const elements = list(raw, '_elements');
  for (const element of elements) {
    if (!ELEMENT.test(element))
      throw new BadRequestError(`_elements value ${clip(element)} is not an element name.`);
  }

  const includeAssociatedData = list(raw, 'includeAssociatedData');
  if (includeAssociatedData.length > 0) {
    // No associated data (e.g. Provenance) is produced by this server.
    if (!lenient) {
      throw new BadRequestError(
        `includeAssociatedData ${clip(includeAssociatedData.join(','))} is not supported.`,
        'not-supported',
      );
    }
    warnings.push('Ignored includeAssociatedData.');
  }

  const patients = parsePatients(raw, input);
  const container = single(raw, '_container');
  if (container !== undefined && !isValidContainerName(container)) {
    throw new BadRequestError(`_container ${clip(container)} is not a valid blob container name.`);
  }
  // Refused even under lenient handling: ignoring it would write where the client did not ask.
  if (container !== undefined && !isContainerAllowed(container, options.containers)) {
    throw new BadRequestError(`_container ${clip(container)} is not a container this server exports to.`);
  }

  const anonymization = parseAnonymization(raw, lenient, warnings);

  return {
    request: {
      level: input.level,
      requestUrl: input.url,
      outputFormat: 'application/fhir+ndjson',
      types,
      since,
      until,
      typeFilters,
      elements,
      groupId: input.level === 'group' ? input.groupId : undefined,
      patients,
      container,
      includeAssociatedData: [],
      ...(anonymization ? { anonymization } : {}),
      allowPartialManifests: booleanParameter('allowPartialManifests', raw.get('allowPartialManifests')),
      ...parseOrganizeOutputBy(raw, input.level, anonymization !== undefined),
    },
    lenient,
    noCache: /(^|,)\s*no-cache\s*(,|$)/i.test(input.headers.get('cache-control') ?? ''),
    warnings,
  };
}

interface Preferences {
  respondAsync: boolean;
  handling?: 'strict' | 'lenient';
  /** Preferences this server does not honour, as given. */
  unknown: string[];
}

/**
 * The kick-off's `Prefer` header. `respond-async` takes no value and `handling` only `strict` or
 * `lenient` (RFC 7240); anything else would be a preference the client believes honoured but is not.
 */
function parsePrefer(header: string | null): Preferences {
  const preferences: Preferences = { respondAsync: false, unknown: [] };
  for (const token of (header ?? '').split(/[,;]/)) {
    if (token.trim() === '') continue;
    const [name, value] = token.split('=').map((s) => s.trim().toLowerCase());
    if (name === 'respond-async' && value === undefined) preferences.respondAsync = true;
    else if (name === 'handling' && (value === 'strict' || value === 'lenient')) preferences.handling = value;
    else preferences.unknown.push(token.trim());
  }
  return preferences;
}

function acceptsFhirJson(accept: string | null): boolean {
  if (!accept) return false;
  return (
    accept
      .split(',')
      .map((part) => part.split(';')[0].trim().toLowerCase())
      // Generic HTTP clients send wildcards or application/json next to it; they get FHIR JSON too.
      .some((type) => FHIR_JSON_ACCEPTS.has(type))
  );
}

function collectParameters(input: KickoffInput): RawParameters {
  const raw: RawParameters = new Map();
  const add = (name: string, value: string) => {
    const values = raw.get(name) ?? [];
    if (values.length >= MAX_PARAMETER_VALUES)
      throw new BadRequestError(`Too many values for ${clip(name)}.`);
    values.push(value);
    raw.set(name, values);
  };
  let url: URL;
  try {
    url = new URL(input.url);
  } catch {
    throw new BadRequestError('The request URL is malformed.');
  }
  for (const [name, value] of url.searchParams) add(name, value);

  if (input.method === 'POST') {
    for (const [name, value] of parametersBody(input)) add(name, value);
  } else if (raw.has('patient')) {
    throw new BadRequestError('The patient parameter is only supported with POST.');
  }
  return raw;
}

/** Reads a FHIR `Parameters` body into name/value pairs. */
function parametersBody(input: KickoffInput): Array<[string, string]> {
  const text = input.body ?? '';
  if (text.trim() === '') return [];
  const contentType = (input.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (contentType !== 'application/fhir+json' && contentType !== 'application/json') {
    throw new BadRequestError('A POST kick-off body must be a Parameters resource as application/fhir+json.');
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new BadRequestError('The request body is not valid JSON.', 'structure');
  }
  if (!isObject(body) || body.resourceType !== 'Parameters') {
    throw new BadRequestError('The request body must be a Parameters resource.', 'structure');
  }
  const parameters = body.parameter ?? [];
  if (!Array.isArray(parameters))
    throw new BadRequestError('Parameters.parameter must be an array.', 'structure');
  const pairs: Array<[string, string]> = [];
  for (const parameter of parameters) {
    if (!isObject(parameter) || typeof parameter.name !== 'string') {
      throw new BadRequestError('Every Parameters.parameter needs a name.', 'structure');
    }
    pairs.push([parameter.name, parameterValue(parameter)]);
  }
  return pairs;
}

function parameterValue(parameter: Record<string, unknown>): string {
  for (const [key, value] of Object.entries(parameter)) {
    if (!key.startsWith('value')) continue;
    // valueBoolean (allowPartialManifests) reads as its JSON spelling, as in a query.
    if (typeof value === 'string' || typeof value === 'boolean') return String(value);
    if (key === 'valueReference' && isObject(value) && typeof value.reference === 'string')
      return value.reference;
  }
  throw new BadRequestError(`Parameter ${clip(String(parameter.name))} has no supported value.`, 'structure');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function single(raw: RawParameters, name: string): string | undefined {
  const values = raw.get(name);
  if (!values) return undefined;
  if (values.length > 1) throw new BadRequestError(`${name} may be given only once.`);
  return values[0];
}

function list(raw: RawParameters, name: string): string[] {
  const values = (raw.get(name) ?? []).flatMap((v) => v.split(',')).map((v) => v.trim());
  if (values.some((v) => v === '')) throw new BadRequestError(`${name} has an empty value.`);
  return [...new Set(values)];
}

function instant(raw: RawParameters, name: string): string | undefined {
  const value = single(raw, name);
  if (value === undefined) return undefined;
  const utc = INSTANT.test(value) ? utcInstant(value) : undefined;
  if (utc === undefined) {
    throw new BadRequestError(
      `${name} must be a FHIR instant such as 2024-01-01T00:00:00Z, not "${clip(value)}".`,
    );
  }
  return utc;
}

function parseTypes(
  raw: RawParameters,
  compartmentOnly: boolean,
  options: KickoffOptions,
  lenient: boolean,
  warnings: string[],
): string[] {
  const types: string[] = [];
  for (const type of list(raw, '_type')) {
    if (!isR4ResourceType(type)) {
      if (!lenient) throw new BadRequestError(`_type ${clip(type)} is not a FHIR R4 resource type.`);
      warnings.push(`Ignored unknown resource type ${clip(type)}.`);
      continue;
    }
    if (compartmentOnly && !options.compartmentTypes.has(type)) {
      if (!lenient)
        throw new BadRequestError(
          `_type ${type} is not in the Patient compartment as this server exports it.`,
        );
      warnings.push(`Ignored ${type}: not in the Patient compartment.`);
      continue;
    }
    types.push(type);
  }
  if (raw.has('_type') && types.length === 0) {
    throw new BadRequestError('_type names no resource type that can be exported.');
  }
  return types;
}

/**
 * `_typeFilter` values are `Type?query`. A comma separates two filters only where a new `Type?`
 * starts; commas inside a query (OR-ed values) stay with it.
 */
function parseTypeFilters(
  raw: RawParameters,
  types: string[],
  compartmentOnly: boolean,
  options: KickoffOptions,
): Record<string, string[]> {
  const filters: Record<string, string[]> = {};
  const values = (raw.get('_typeFilter') ?? []).flatMap((v) => v.split(/,(?=[A-Z][A-Za-z]+\?)/));
  for (const value of values) {
    const match = /^([A-Z][A-Za-z]+)\?(.+)$/.exec(value.trim());
    if (!match) throw new BadRequestError(`_typeFilter ${clip(value)} is not of the form Type?query.`);
    const [, type, query] = match;
    if (!isR4ResourceType(type)) throw new BadRequestError(`_typeFilter names unknown type ${clip(type)}.`);
    const params = new URLSearchParams(query);
    for (const name of params.keys()) {
      const bare = name.split(':')[0];
      if (FORBIDDEN_FILTER_PARAMETERS.has(bare)) {
        throw new BadRequestError(`_typeFilter may not use ${clip(bare)}.`, 'not-supported');
      }
      if (name.trim() === '') throw new BadRequestError(`_typeFilter ${clip(value)} has an empty parameter.`);
    }
    const normalised = params.toString();
    if (normalised === '') throw new BadRequestError(`_typeFilter ${clip(value)} has no query.`);
    // IG v3 processing model: `_type` (or the level) decides the types, then each type's filters
    // narrow it; a filter for a type not exported has nothing to narrow.
    const exported =
      types.length > 0 ? types.includes(type) : !compartmentOnly || options.compartmentTypes.has(type);
    if (!exported) continue;
    const list = (filters[type] ??= []);
    if (!list.includes(normalised)) list.push(normalised);
  }
  return filters;
}

function parsePatients(raw: RawParameters, input: KickoffInput): string[] {
  const values = raw.get('patient') ?? [];
  if (values.length === 0) return [];
  if (input.level === 'system') {
    throw new BadRequestError('The patient parameter applies to Patient and Group exports only.');
  }
  const patients = values.flatMap((v) => v.split(',')).map((v) => v.trim());
  for (const reference of patients) {
    const match = /^Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(reference);
    if (!match) throw new BadRequestError(`patient ${clip(reference)} is not a Patient reference.`);
  }
  return [...new Set(patients)];
}

/** Shortens echoed input so an error never carries a huge or hostile value back in full. */
