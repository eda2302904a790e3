/**
 * The kick-off parameters of a de-identified export, as Microsoft's FHIR server names them:
 * `_anonymizationConfig` (a blob of the `anonymization` container of the export's storage account)
 * and `_anonymizationConfigEtag` (the version of that blob the client expects).
 */
import { clip } from '../util/clientText';
import { BadRequestError } from './errors';
import type { AnonymizationRequest } from './model';

export const ANONYMIZATION_PARAMETERS = [
  '_anonymizationConfig',
  '_anonymizationConfigEtag',
  '_anonymizationConfigCollectionReference',
] as const;

/** The container of the export's storage account that holds the configurations. */
export const ANONYMIZATION_CONTAINER = 'anonymization';

/** Azure's limit on a blob name; control characters and backslashes are refused outright. */
const MAX_BLOB_NAME = 1024;
const UNSAFE_IN_BLOB_NAME = /[\p{Cc}\\]/u;
/** An entity tag's opaque part (RFC 9110): printable ASCII without the double quote. */
const ETAG_CHARACTERS = /^[\x21\x23-\x7e]{1,256}$/;

/**
 * The configuration the kick-off names, or undefined. `raw` holds every value given per parameter.
 * `_anonymizationConfigCollectionReference` (a configuration in a container registry) is not
 * supported: a 400, or under lenient handling dropped with a warning, which leaves a configuration
 * named by `_anonymizationConfig` in force.
 */
export function parseAnonymization(
  raw: Map<string, string[]>,
  lenient: boolean,
  warnings: string[],
): AnonymizationRequest | undefined {
  if (raw.has('_anonymizationConfigCollectionReference')) {
    const message =
      '_anonymizationConfigCollectionReference is not supported; name a blob of the anonymization container with _anonymizationConfig.';
    if (!lenient) throw new BadRequestError(message, 'not-supported');
    warnings.push(
      'Ignored _anonymizationConfigCollectionReference: configurations are read from Blob Storage only.',
    );
    raw.delete('_anonymizationConfigCollectionReference');
  }
  const config = singleValue(raw, '_anonymizationConfig');
  const etag = singleValue(raw, '_anonymizationConfigEtag');
  if (config === undefined) {
    if (etag !== undefined) throw new BadRequestError('_anonymizationConfigEtag needs _anonymizationConfig.');
    return undefined;
  }
  if (
    config.length > MAX_BLOB_NAME ||
    UNSAFE_IN_BLOB_NAME.test(config) ||
    config.split('/').some((segment) => segment === '.' || segment === '..')
  ) {
    throw new BadRequestError(`_anonymizationConfig ${clip(config)} is not a valid blob name.`);
  }
  return etag === undefined ? { config } : { config, etag: quotedEtag(etag) };
}

/** The etag as an `If-Match` value: quoted, whether or not the client quoted it. */
export function quotedEtag(value: string): string {
  const opaque =
    value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
  if (!ETAG_CHARACTERS.test(opaque)) {
    throw new BadRequestError(`_anonymizationConfigEtag ${clip(value)} is not an entity tag.`);
  }
  return `"${opaque}"`;
}

function singleValue(raw: Map<string, string[]>, name: string): string | undefined {
  const values = raw.get(name);
  if (!values) return undefined;
  if (values.length > 1) throw new BadRequestError(`${name} may be given only once.`);
  if (values[0].trim() === '') throw new BadRequestError(`${name} has an empty value.`);
  return values[0].trim();
}
