/**
 * The configuration of a de-identified export, read and checked at kick-off: a configuration that is
 * missing, of another version than the client named, too large, or invalid is the client's error,
 * answered 400 before any job exists (Microsoft's FHIR server finds these only inside the job). What
 * the job runs with is pinned at that moment (see `newDeidConfigDocument`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { toDestinationError } from '../destination/blobExportDestination';
import { AnonymizationConfigError, type CompiledConfiguration, type DeidKeyName } from '../deid/contract';
import { clip } from '../util/clientText';
import { ANONYMIZATION_CONTAINER } from './anonymizationRequest';
import { BadRequestError, ServiceUnavailableError } from './errors';
import type { ExportDeps } from './exportDeps';
import { httpStatusOf, networkCodeOf } from './failureTable';
import {
  deidConfigDocumentId,
  type AnonymizationRequest,
  type DeidConfigDocument,
  type DeidentificationInfo,
} from './model';

/** The largest configuration accepted, as Microsoft's FHIR server allows. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** How long a client is asked to wait when the storage account cannot be reached. */
const STORAGE_RETRY_AFTER_SECONDS = 10;

/** A configuration read and compiled at kick-off. */
export interface LoadedConfiguration {
  info: DeidentificationInfo;
  data: Buffer;
  compiled: CompiledConfiguration;
}

/**
 * Keys for what a configuration leaves out. 32 random bytes as hex for the HMAC and date-shift keys;
 * the AES key must be 16, 24 or 32 bytes of UTF-8, so 24 random bytes as 32 base64 characters.
 */
const KEY_GENERATORS: Record<DeidKeyName, () => string> = {
  cryptoHashKey: () => randomBytes(32).toString('hex'),
  dateShiftKey: () => randomBytes(32).toString('hex'),
  encryptKey: () => randomBytes(24).toString('base64'),
};

/** Reads the configuration the kick-off names from the `anonymization` container and compiles it. */
export async function loadAnonymizationConfig(
  deps: ExportDeps,
  request: AnonymizationRequest,
): Promise<LoadedConfiguration> {
  const engine = deps.deid?.engine;
  if (!engine)
    throw new BadRequestError('De-identified export is not available on this server.', 'not-supported');
  const name = clip(request.config);
  const store = deps.destinationFor({
    accountUrl: deps.destinationRef.accountUrl,
    container: ANONYMIZATION_CONTAINER,
  });
  let read;
  try {
    read = await store.readSmallBlob(request.config, { ifMatch: request.etag, maxBytes: MAX_CONFIG_BYTES });
  } catch (error) {
    throw storageFailure(error);
  }
  switch (read.outcome) {
    case 'not-found':
      throw new AnonymizationConfigError(
        `The anonymization configuration ${name} was not found in the container ${ANONYMIZATION_CONTAINER}.`,
      );
    case 'etag-mismatch':
      throw new AnonymizationConfigError(
        `The anonymization configuration ${name} is not at version ${clip(request.etag ?? '')} (_anonymizationConfigEtag).`,
      );
    case 'too-large':
      throw new AnonymizationConfigError(
        `The anonymization configuration ${name} is ${read.size} bytes; at most ${MAX_CONFIG_BYTES} bytes are allowed.`,
      );
  }
  const compiled = compileConfig(engine.compile.bind(engine), read.data, name);
  return {
    info: {
      configuration: request.config,
      etag: read.etag,
      sha256: createHash('sha256').update(read.data).digest('hex'),
      processingErrors: compiled.processingErrors,
    },
    data: read.data,
    compiled,
  };
}

/** The document that pins a job's configuration, with a fresh key for each one it leaves out. */
export function newDeidConfigDocument(
  jobId: string,
  loaded: LoadedConfiguration,
  now: Date,
): DeidConfigDocument {
  const missingKeys: Record<string, string> = {};
  for (const key of loaded.compiled.missingKeys) missingKeys[key] = KEY_GENERATORS[key]();
  return {
    id: deidConfigDocumentId(jobId),
    jobId,
    docType: 'deid',
    configBase64: loaded.data.toString('base64'),
    missingKeys,
    createdAt: now.toISOString(),
  };
}

/** The configuration's text compiled; bytes that are not UTF-8 are refused like invalid JSON. */
function compileConfig(
  compile: (text: string) => CompiledConfiguration,
  data: Buffer,
  name: string,
): CompiledConfiguration {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(data);
  } catch {
    throw new AnonymizationConfigError(`The anonymization configuration ${name} is not UTF-8 text.`);
  }
  try {
    return compile(text);
  } catch (error) {
    if (error instanceof AnonymizationConfigError) {
      throw new AnonymizationConfigError(
        `The anonymization configuration ${name} cannot be used: ${clip(error.message, 300)}`,
        error.issues,
      );
    }
    if (error instanceof SyntaxError) {
      throw new AnonymizationConfigError(`The anonymization configuration ${name} is not valid JSON.`);
    }
    throw error;
  }
}

/**
 * A failed read of the configuration: a storage account that cannot be reached or answers 5xx is a
 * passing fault (503 with Retry-After, as for a data source that is down at kick-off); a refusal of
 * the service's credentials is mapped as every other destination error.
 */
function storageFailure(error: unknown): unknown {
  const status = httpStatusOf(error);
  const mapped = toDestinationError(error, 'Reading the anonymization configuration');
  const passing =
    networkCodeOf(error) !== undefined ||
    (status !== undefined && (status >= 500 || status === 408 || status === 429)) ||
    // An account that cannot be reached at all (ENOTFOUND, EHOSTUNREACH, …).
    mapped?.statusCode === 400;
  if (!passing) return mapped ?? error;
  return new ServiceUnavailableError(
    'The storage account that holds the anonymization configuration cannot be reached; retry later.',
    STORAGE_RETRY_AFTER_SECONDS,
  );
}
