/**
 * The resource types a FHIR server can export, from its CapabilityStatement. Never guessed: a guessed
 * list makes a system export ask for types the server lacks, or leave out types it has.
 */
import { SourceCapabilitiesError, SourceError } from '../export/errors';
import { FhirHttpClient, ResponseTooLargeError } from './fhirHttp';
import { isRecord } from './responseText';

/**
 * The types of `GET {baseUrl}/metadata` that allow type-level search. Transient failures go up as they
 * are, to be retried (with the wait the server asked for); a statement that cannot be read, or that
 * lists no such type, is a `SourceCapabilitiesError`.
 */
export async function searchableTypes(
  http: FhirHttpClient,
  baseUrl: string,
  maxBytes: number,
): Promise<string[]> {
  let body: unknown;
  try {
    ({ body } = await http.requestJson(`${baseUrl}/metadata`, { maxBytes }));
  } catch (error) {
    if (error instanceof SourceError && error.transient) throw error;
    const why =
      error instanceof SourceError
        ? error.message
        : error instanceof ResponseTooLargeError
          ? `it is larger than the page byte budget (${maxBytes} bytes)`
          : undefined;
    if (why === undefined) throw error;
    throw new SourceCapabilitiesError(
      `its CapabilityStatement (GET [base]/metadata) could not be read: ${why}`,
    );
  }
  const types = typesWithInteraction(body, 'search-type');
  if (types.length === 0) {
    throw new SourceCapabilitiesError(
      'its CapabilityStatement (GET [base]/metadata) lists no resource type with type-level search',
    );
  }
  return types;
}

/** Types of a CapabilityStatement's server REST entry that offer `interaction` (e.g. `search-type`). */
export function typesWithInteraction(body: unknown, interaction: string): string[] {
  if (!isRecord(body) || body.resourceType !== 'CapabilityStatement' || !Array.isArray(body.rest)) return [];
  const types = new Set<string>();
  for (const rest of body.rest) {
    if (
      !isRecord(rest) ||
      (rest.mode !== undefined && rest.mode !== 'server') ||
      !Array.isArray(rest.resource)
    )
      continue;
    for (const resource of rest.resource) {
      if (!isRecord(resource) || typeof resource.type !== 'string') continue;
      const interactions = Array.isArray(resource.interaction) ? resource.interaction : [];
      if (interactions.some((i) => isRecord(i) && i.code === interaction)) types.add(resource.type);
    }
  }
  return [...types].sort();
}
