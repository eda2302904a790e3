/**
 * Reads a configuration file in the format of Microsoft's FHIR anonymization tools and checks every
 * field, collecting all the problems rather than stopping at the first, so a client fixes them in one go.
 * FHIRPath expressions are only collected here; compiledRules.ts compiles them.
 */
import type { ConfigurationIssue } from './contract';

export const METHOD_NAMES = [
  'keep',
  'redact',
  'cryptoHash',
  'encrypt',
  'dateShift',
  'perturb',
  'substitute',
  'generalize',
] as const;

export type MethodName = (typeof METHOD_NAMES)[number];

export interface PerturbOptions {
  span: number;
  rangeType: 'fixed' | 'proportional';
  /** Absent means the default: 2 decimals, 0 for integer types. */
  roundTo?: number;
}

export interface GeneralizeOptions {
  /** Condition and value expressions, in file order: the first true condition wins. */
  cases: [condition: string, value: string][];
  otherValues: 'redact' | 'keep';
}

export interface RuleSpec {
  index: number;
  path: string;
  method: MethodName;
  perturb?: PerturbOptions;
  replaceWith?: string | Record<string, unknown>;
  generalize?: GeneralizeOptions;
}

export interface DeidParameters {
  cryptoHashKey?: string;
  dateShiftKey?: string;
  encryptKey?: string;
  dateShiftScope: 'resource' | 'file' | 'folder';
  dateShiftFixedOffsetInDays?: number;
  enablePartialAgesForRedact: boolean;
  enablePartialDatesForRedact: boolean;
  enablePartialZipCodesForRedact: boolean;
  restrictedZipCodeTabulationAreas: ReadonlySet<string>;
}

export interface ParsedConfiguration {
  processingErrors: 'raise' | 'skip';
  rules: RuleSpec[];
  parameters: DeidParameters;
}

/** AES takes 128, 192 or 256-bit keys. */
export const ENCRYPT_KEY_BYTES = [16, 24, 32];

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[]): T | undefined {
  if (typeof value !== 'string') return undefined;
  return allowed.find((option) => option.toLowerCase() === value.toLowerCase());
}

/** Reads an optional enumerated option: absent gives the default, anything unknown is an issue. */
function optionalChoice<T extends string>(
  value: unknown,
  allowed: readonly T[],
  fallback: T,
  report: (reason: string) => void,
  name: string,
): T {
  if (value === undefined || value === null) return fallback;
  const found = oneOf(value, allowed);
  if (found === undefined) report(`${name} must be one of ${allowed.join(', ')}`);
  return found ?? fallback;
}

function parsePerturb(rule: Json, report: (reason: string) => void): PerturbOptions {
  const { span, roundTo } = rule;
  if (typeof span !== 'number' || !Number.isFinite(span) || span < 0) {
    report('perturb needs a span: a number at least 0');
  }
  if (
    roundTo !== undefined &&
    (!Number.isInteger(roundTo) || (roundTo as number) < 0 || (roundTo as number) > 28)
  ) {
    report('roundTo must be a whole number from 0 to 28');
  }
  return {
    span: typeof span === 'number' ? span : 0,
    rangeType: optionalChoice(
      rule.rangeType,
      ['fixed', 'proportional'] as const,
      'fixed',
      report,
      'rangeType',
    ),
    roundTo: Number.isInteger(roundTo) ? (roundTo as number) : undefined,
  };
}

function parseGeneralize(rule: Json, report: (reason: string) => void): GeneralizeOptions {
  const cases: [string, string][] = [];
  if (!isObject(rule.cases)) {
    report('generalize needs cases: an object of FHIRPath conditions to FHIRPath values');
  } else {
    for (const [condition, value] of Object.entries(rule.cases)) {
      if (typeof value !== 'string' || value.trim() === '') {
        report(`the value of the case ${JSON.stringify(condition)} must be a FHIRPath expression`);
      } else {
        cases.push([condition, value]);
      }
    }
  }
  const otherValues = optionalChoice(
    rule.otherValues,
    ['redact', 'keep'] as const,
    'redact',
    report,
    'otherValues',
  );
  return { cases, otherValues };
}

function parseRule(rule: unknown, index: number, issues: ConfigurationIssue[]): RuleSpec | undefined {
  const path = isObject(rule) && typeof rule.path === 'string' ? rule.path : undefined;
  const report = (reason: string): void => {
    issues.push({ ruleIndex: index, ...(path === undefined ? {} : { path }), reason });
  };
  if (!isObject(rule)) {
    report('a rule must be an object with a path and a method');
    return undefined;
  }
  if (path === undefined || path.trim() === '') report('the rule has no path');
  const method = oneOf(rule.method, METHOD_NAMES);
  if (method === undefined) {
    report(
      typeof rule.method === 'string'
        ? `unknown method ${JSON.stringify(rule.method)}`
        : 'the rule has no method',
    );
  }
  if (path === undefined || method === undefined) return undefined;
  const spec: RuleSpec = { index, path: path.trim(), method };
  if (method === 'perturb') spec.perturb = parsePerturb(rule, report);
  if (method === 'generalize') spec.generalize = parseGeneralize(rule, report);
  if (method === 'substitute') {
    const { replaceWith } = rule;
    if (typeof replaceWith === 'string' || isObject(replaceWith)) spec.replaceWith = replaceWith;
    else report('substitute needs replaceWith: a string or a JSON object');
  }
  return spec;
}

function optionalString(params: Json, name: string, issues: ConfigurationIssue[]): string | undefined {
  const value = params[name];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'string') return value;
  issues.push({ reason: `parameters.${name} must be a string` });
  return undefined;
}

function flag(params: Json, name: string, issues: ConfigurationIssue[]): boolean {
  const value = params[name];
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return value;
  issues.push({ reason: `parameters.${name} must be true or false` });
  return false;
}

function zipPrefixes(value: unknown, issues: ConfigurationIssue[]): Set<string> {
  if (value === undefined || value === null) return new Set();
  if (
    !Array.isArray(value) ||
    !value.every((prefix) => typeof prefix === 'string' && /^\d{3}$/.test(prefix))
  ) {
    issues.push({ reason: 'parameters.restrictedZipCodeTabulationAreas must be a list of 3-digit prefixes' });
    return new Set();
  }
  return new Set(value as string[]);
}

function parseParameters(value: unknown, issues: ConfigurationIssue[]): DeidParameters {
  if (value !== undefined && value !== null && !isObject(value)) {
    issues.push({ reason: 'parameters must be an object' });
  }
  const params = isObject(value) ? value : {};
  const encryptKey = optionalString(params, 'encryptKey', issues);
  if (encryptKey !== undefined && !ENCRYPT_KEY_BYTES.includes(Buffer.byteLength(encryptKey, 'utf8'))) {
    issues.push({ reason: 'parameters.encryptKey must be 16, 24 or 32 bytes of UTF-8' });
  }
  const offset = params.dateShiftFixedOffsetInDays;
  if (offset !== undefined && offset !== null && !Number.isInteger(offset)) {
    issues.push({ reason: 'parameters.dateShiftFixedOffsetInDays must be a whole number of days' });
  }
  const report = (reason: string): void => {
    issues.push({ reason: `parameters.${reason}` });
  };
  return {
    cryptoHashKey: optionalString(params, 'cryptoHashKey', issues),
    dateShiftKey: optionalString(params, 'dateShiftKey', issues),
    encryptKey,
    dateShiftScope: optionalChoice(
      params.dateShiftScope,
      ['resource', 'file', 'folder'] as const,
      'resource',
      report,
      'dateShiftScope',
    ),
    dateShiftFixedOffsetInDays: Number.isInteger(offset) ? (offset as number) : undefined,
    enablePartialAgesForRedact: flag(params, 'enablePartialAgesForRedact', issues),
    enablePartialDatesForRedact: flag(params, 'enablePartialDatesForRedact', issues),
    enablePartialZipCodesForRedact: flag(params, 'enablePartialZipCodesForRedact', issues),
    restrictedZipCodeTabulationAreas: zipPrefixes(params.restrictedZipCodeTabulationAreas, issues),
  };
}

/** Parses the text; problems go to `issues`, and the result holds whatever could be read. */
export function parseConfiguration(
  text: string,
  issues: ConfigurationIssue[],
): ParsedConfiguration | undefined {
  let document: unknown;
  try {
    document = JSON.parse(text.startsWith('\uFEFF') ? text.slice(1) : text);
  } catch {
    issues.push({ reason: 'the configuration is not valid JSON' });
    return undefined;
  }
  if (!isObject(document)) {
    issues.push({ reason: 'the configuration must be a JSON object' });
    return undefined;
  }
  const { fhirVersion } = document;
  if (
    fhirVersion !== undefined &&
    fhirVersion !== null &&
    fhirVersion !== '' &&
    oneOf(fhirVersion, ['R4']) !== 'R4'
  ) {
    issues.push({ reason: 'fhirVersion must be R4 or empty' });
  }
  const processingErrors = optionalChoice(
    document.processingErrors,
    ['raise', 'skip'] as const,
    'raise',
    (reason) => issues.push({ reason }),
    'processingErrors',
  );
  const rules: RuleSpec[] = [];
  if (!Array.isArray(document.fhirPathRules)) {
    issues.push({ reason: 'fhirPathRules must be a list of rules' });
  } else {
    document.fhirPathRules.forEach((rule, index) => {
      const spec = parseRule(rule, index, issues);
      if (spec) rules.push(spec);
    });
  }
  return { processingErrors, rules, parameters: parseParameters(document.parameters, issues) };
}
