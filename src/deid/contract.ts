/**
 * What the de-identification engine offers the export: a configuration in the format of Microsoft's
 * FHIR anonymization tools is compiled once per job, then every resource goes through a
 * `Deidentifier` built from it and the job's keys. The export knows only these types; the rules and
 * methods live beside them in `src/deid/`.
 */
import { ExportError } from '../export/errors';

/** The keys a configuration may leave out; the export generates the missing ones once per job. */
export type DeidKeyName = 'cryptoHashKey' | 'dateShiftKey' | 'encryptKey';

export type DeidKeys = Record<DeidKeyName, string>;

/** One thing wrong with a configuration: where (rule index and path when it is a rule) and why. */
export interface ConfigurationIssue {
  ruleIndex?: number;
  path?: string;
  reason: string;
}

/** The configuration cannot be used; found at kick-off, so it is the client's error: 400. */
export class AnonymizationConfigError extends ExportError {
  readonly statusCode = 400;
  override readonly issueCode = 'invalid';
  constructor(
    message: string,
    readonly issues: ConfigurationIssue[] = [],
  ) {
    super(message);
  }
}

/**
 * A resource could not be de-identified under `processingErrors: raise`. The message names the
 * resource type, the rule and the method, never the resource's content; it fails the job with 400.
 */
export class DeidentificationError extends ExportError {
  readonly statusCode = 400;
  constructor(
    message: string,
    readonly resourceType: string,
    readonly ruleIndex: number,
  ) {
    super(message);
  }
}

/** A configuration checked and compiled: every rule's path parsed once. */
export interface CompiledConfiguration {
  readonly processingErrors: 'raise' | 'skip';
  /** The keys its rules use that the configuration itself does not give. */
  readonly missingKeys: readonly DeidKeyName[];
}

/** What became of one resource. */
export type DeidOutcome =
  | { resource: Record<string, unknown>; skipped?: undefined }
  /** Under `processingErrors: skip`: the redacted stub, and why (no resource content in it). */
  | { resource: Record<string, unknown>; skipped: { ruleIndex: number; reason: string } };

export interface Deidentifier {
  /** De-identifies `resource` (which it may change in place) by the configuration's rules. */
  deidentify(resource: Record<string, unknown>): DeidOutcome;
}

export interface DeidEngine {
  /** Checks and compiles a configuration file's text (a UTF-8 byte-order mark is allowed). */
  compile(text: string): CompiledConfiguration;
  /**
   * A de-identifier for one job. `keys` fill what the configuration leaves out; `seed` (the job id)
   * makes perturbation and encryption deterministic per job and resource, so a page written twice
   * gives the same bytes.
   */
  deidentifier(config: CompiledConfiguration, keys: Partial<DeidKeys>, seed: string): Deidentifier;
}
