import { deidEngine, type DeidOutcome } from '../../../src/deid';

export const KEYS = {
  cryptoHashKey: 'hash-key',
  dateShiftKey: 'shift-key',
  encryptKey: '0123456789abcdef',
};

export type Json = Record<string, unknown>;

/** A configuration text from rules and parameters. */
export function configText(rules: Json[], parameters: Json = {}, extra: Json = {}): string {
  return JSON.stringify({ fhirVersion: 'R4', fhirPathRules: rules, parameters, ...extra });
}

/** De-identifies a copy of `resource` under the given rules. */
export function run(
  resource: Json,
  rules: Json[],
  parameters: Json = {},
  extra: Json = {},
  seed = 'job-1',
): DeidOutcome {
  const config = deidEngine.compile(configText(rules, parameters, extra));
  return deidEngine.deidentifier(config, KEYS, seed).deidentify(structuredClone(resource));
}

export function deid(
  resource: Json,
  rules: Json[],
  parameters: Json = {},
  extra: Json = {},
  seed = 'job-1',
): Json {
  return run(resource, rules, parameters, extra, seed).resource;
}

export function labelCodes(resource: Json): unknown[] {
  const meta = resource.meta as { security?: { code: string }[] } | undefined;
  return (meta?.security ?? []).map((coding) => coding.code);
}
