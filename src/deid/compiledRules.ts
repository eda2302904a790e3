/**
 * Every FHIRPath expression of a configuration compiled once: a rule's type prefix is split from its
 * expression, and the cases of `generalize` become pairs of compiled condition and value.
 */
import type { ConfigurationIssue } from './contract';
import type { RuleSpec } from './configuration';
import { compileExpression, isResourceTypeName, type CompiledExpression } from './fhirpath';
import { fhirpathIndex } from './fhirpathIndex';
import { ResourceScope } from './nodes';
import { planRule, type RulePlan } from './rulePlans';

export interface CompiledCase {
  condition: CompiledExpression;
  value: CompiledExpression;
}

export interface CompiledRule {
  readonly spec: RuleSpec;
  /** '' when the rule applies to every resource type. */
  readonly resourceType: string;
  /** Undefined when the rule names the whole resource (`Patient`, `Resource`). */
  readonly expression: CompiledExpression | undefined;
  /** How the expression is read from the JSON index instead, where it can be. */
  readonly plan: RulePlan | undefined;
  readonly cases: CompiledCase[];
}

const ANY_RESOURCE = new Set(['', 'Resource', 'DomainResource']);

/** `Patient.name.given` → [`Patient`, `name.given`]; `nodesByType('HumanName')` has no prefix. */
export function splitRulePath(path: string): { prefix: string; expression: string } {
  const match = /^([A-Z][A-Za-z]*)(?:\.([\s\S]*))?$/.exec(path);
  if (!match) return { prefix: '', expression: path };
  return { prefix: match[1], expression: match[2] ?? '' };
}

function compileOne(expression: string, report: (reason: string) => void): CompiledExpression | undefined {
  try {
    return compileExpression(expression);
  } catch {
    // The parser's message quotes the expression back; the rule's path already names it.
    report(`the FHIRPath expression ${JSON.stringify(expression)} does not compile`);
    return undefined;
  }
}

/** Runs an expression once on an empty resource, so that unknown functions surface now, not mid-export. */
function dryRun(
  expression: CompiledExpression,
  resourceType: string,
  report: (reason: string) => void,
): void {
  const resource = { resourceType: resourceType || 'Patient' };
  try {
    expression(resource, new ResourceScope(resource, fhirpathIndex));
  } catch (error) {
    report(
      `the FHIRPath expression cannot be evaluated: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

function compileRule(spec: RuleSpec, issues: ConfigurationIssue[]): CompiledRule | undefined {
  const report = (reason: string): void => {
    issues.push({ ruleIndex: spec.index, path: spec.path, reason });
  };
  const { prefix, expression: text } = splitRulePath(spec.path);
  if (prefix && !isResourceTypeName(prefix)) {
    report(`${prefix} is not an R4 resource type`);
    return undefined;
  }
  const expression = text === '' ? undefined : compileOne(text, report);
  if (text !== '' && !expression) return undefined;
  if (expression) dryRun(expression, ANY_RESOURCE.has(prefix) ? '' : prefix, report);
  const cases: CompiledCase[] = [];
  for (const [conditionText, valueText] of spec.generalize?.cases ?? []) {
    const condition = compileOne(conditionText, report);
    const value = compileOne(valueText, report);
    if (condition && value) cases.push({ condition, value });
  }
  const plan = expression ? planRule(text) : undefined;
  return { spec, resourceType: ANY_RESOURCE.has(prefix) ? '' : prefix, expression, plan, cases };
}

export function compileRules(specs: RuleSpec[], issues: ConfigurationIssue[]): CompiledRule[] {
  return specs.flatMap((spec) => compileRule(spec, issues) ?? []);
}

/** The rules that apply to one resource type, in file order; computed once per type. */
export class RuleSet {
  private readonly byType = new Map<string, CompiledRule[]>();

  constructor(readonly rules: readonly CompiledRule[]) {}

  forType(resourceType: string): CompiledRule[] {
    let rules = this.byType.get(resourceType);
    if (!rules) {
      rules = this.rules.filter((rule) => rule.resourceType === '' || rule.resourceType === resourceType);
      this.byType.set(resourceType, rules);
    }
    return rules;
  }
}
