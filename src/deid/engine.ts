/** The engine the export uses: compiles a configuration once, then builds a de-identifier per job. */
import { compileRules, RuleSet, type CompiledRule } from './compiledRules';
import { ENCRYPT_KEY_BYTES, parseConfiguration, type DeidParameters } from './configuration';
import {
  AnonymizationConfigError,
  type CompiledConfiguration,
  type ConfigurationIssue,
  type DeidEngine,
  type DeidKeyName,
  type DeidKeys,
  type Deidentifier,
} from './contract';
import { RuleDeidentifier } from './deidentifier';
import { buildMethod } from './methods/factory';

class CompiledDeidConfiguration implements CompiledConfiguration {
  readonly ruleSet: RuleSet;
  constructor(
    readonly processingErrors: 'raise' | 'skip',
    readonly missingKeys: readonly DeidKeyName[],
    readonly rules: readonly CompiledRule[],
    readonly parameters: DeidParameters,
  ) {
    this.ruleSet = new RuleSet(rules);
  }
}

function describe(issue: ConfigurationIssue): string {
  const where =
    issue.ruleIndex === undefined ? '' : `rule ${issue.ruleIndex}${issue.path ? ` (${issue.path})` : ''}: `;
  return `${where}${issue.reason}`;
}

/** The keys the rules' methods need that the parameters do not give, in a fixed order. */
function missingKeysOf(rules: readonly CompiledRule[], parameters: DeidParameters): DeidKeyName[] {
  const methods = new Set(rules.map((rule) => rule.spec.method));
  const missing: DeidKeyName[] = [];
  if (methods.has('cryptoHash') && !parameters.cryptoHashKey) missing.push('cryptoHashKey');
  if (
    methods.has('dateShift') &&
    !parameters.dateShiftKey &&
    parameters.dateShiftFixedOffsetInDays === undefined
  ) {
    missing.push('dateShiftKey');
  }
  if (methods.has('encrypt') && !parameters.encryptKey) missing.push('encryptKey');
  return missing;
}

function compile(text: string): CompiledConfiguration {
  const issues: ConfigurationIssue[] = [];
  const parsed = parseConfiguration(text, issues);
  const rules = parsed ? compileRules(parsed.rules, issues) : [];
  if (!parsed || issues.length > 0) {
    const count = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
    throw new AnonymizationConfigError(
      `Invalid anonymization configuration: ${describe(issues[0] ?? { reason: 'unreadable' })}${count}`,
      issues,
    );
  }
  return new CompiledDeidConfiguration(
    parsed.processingErrors,
    missingKeysOf(rules, parsed.parameters),
    rules,
    parsed.parameters,
  );
}

/** Internal choices the export never makes; the tests use them to compare the two ways of evaluating. */
export interface DeidentifierOptions {
  /** Evaluates every rule path with FHIRPath, never from the JSON index directly. */
  fhirpathOnly?: boolean;
}

/** `deidEngine.deidentifier`, with internal options. */
export function createDeidentifier(
  config: CompiledConfiguration,
  keys: Partial<DeidKeys>,
  seed: string,
  options: DeidentifierOptions = {},
): Deidentifier {
  if (!(config instanceof CompiledDeidConfiguration)) {
    throw new TypeError('the configuration was not compiled by this engine');
  }
  const { parameters } = config;
  const resolved: Partial<DeidKeys> = {
    cryptoHashKey: parameters.cryptoHashKey ?? keys.cryptoHashKey,
    dateShiftKey: parameters.dateShiftKey ?? keys.dateShiftKey,
    encryptKey: parameters.encryptKey ?? keys.encryptKey,
  };
  const absent = config.missingKeys.filter((name) => !resolved[name]);
  if (absent.length > 0) throw new AnonymizationConfigError(`No value for the key(s) ${absent.join(', ')}`);
  if (resolved.encryptKey && !ENCRYPT_KEY_BYTES.includes(Buffer.byteLength(resolved.encryptKey, 'utf8'))) {
    throw new AnonymizationConfigError('The encryption key must be 16, 24 or 32 bytes of UTF-8');
  }
  const full: DeidKeys = {
    cryptoHashKey: resolved.cryptoHashKey ?? '',
    dateShiftKey: resolved.dateShiftKey ?? '',
    encryptKey: resolved.encryptKey ?? '',
  };
  const prepared = config.rules.map((rule) => ({ rule, method: buildMethod(rule, parameters, full) }));
  return new RuleDeidentifier(config.ruleSet, prepared, config.processingErrors, seed, !options.fhirpathOnly);
}

export const deidEngine: DeidEngine = {
  compile,
  deidentifier: (config, keys, seed) => createDeidentifier(config, keys, seed),
};
