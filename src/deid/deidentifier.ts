/**
 * Applies a compiled configuration to one resource: its rules in file order, the first rule that
 * reaches a node winning, then its nested resources by their own rules; at the end, emptied nodes go
 * and the security labels are added to the top-level resource.
 */
import { removeEmptyNodes } from './cleanup';
import type { CompiledRule, RuleSet } from './compiledRules';
import { DeidentificationError, type DeidOutcome, type Deidentifier } from './contract';
import type { ResourceNode } from './fhirpath';
import { fhirpathIndex } from './fhirpathIndex';
import { jsonIndex } from './jsonIndex';
import { ProcessingFailure, type MethodContext, type NodeMethod } from './methods/method';
import { isJsonObject, readValue, ResourceScope, type Element, type JsonObject } from './nodes';
import { evaluateHead } from './rulePlans';
import { addSecurityLabels, redactedStub, type SecurityLabel } from './securityLabels';

export interface PreparedRule {
  readonly rule: CompiledRule;
  readonly method: NodeMethod;
}

/** A rule failed on a resource; the reason is free of the resource's content. */
class RuleFailure extends Error {
  constructor(
    readonly resourceType: string,
    readonly rule: CompiledRule,
    readonly reason: string,
  ) {
    super(reason);
  }
}

function isResourceNode(value: unknown): value is ResourceNode {
  return typeof value === 'object' && value !== null && 'parentResNode' in value;
}

/** Only these places hold resources inside a resource in R4; others need no index to find. */
function mayHoldResources(resource: JsonObject): boolean {
  return (
    resource.contained !== undefined ||
    resource.resourceType === 'Bundle' ||
    resource.resourceType === 'Parameters'
  );
}

export class RuleDeidentifier implements Deidentifier {
  private readonly byRule = new Map<CompiledRule, NodeMethod>();

  constructor(
    private readonly rules: RuleSet,
    prepared: readonly PreparedRule[],
    private readonly processingErrors: 'raise' | 'skip',
    private readonly seed: string,
    /** False to evaluate every rule with FHIRPath: the reference the direct paths are tested against. */
    private readonly direct = true,
  ) {
    for (const { rule, method } of prepared) this.byRule.set(rule, method);
  }

  deidentify(resource: Record<string, unknown>): DeidOutcome {
    const labels = new Set<SecurityLabel>();
    try {
      this.processResource(resource, resource, labels);
    } catch (error) {
      if (!(error instanceof RuleFailure)) throw error;
      const ruleIndex = error.rule.spec.index;
      if (this.processingErrors === 'skip') {
        return {
          resource: redactedStub(resource.resourceType),
          skipped: { ruleIndex, reason: error.reason },
        };
      }
      throw new DeidentificationError(
        `Failed to anonymize resource ${error.resourceType}: rule ${ruleIndex} (${error.rule.spec.method}) failed: ${error.reason}`,
        error.resourceType,
        ruleIndex,
      );
    }
    removeEmptyNodes(resource);
    addSecurityLabels(resource, labels);
    return { resource };
  }

  private processResource(
    resource: JsonObject,
    dateShiftSource: JsonObject,
    labels: Set<SecurityLabel>,
  ): void {
    const resourceType = String(resource.resourceType);
    const scope = new ResourceScope(resource, fhirpathIndex, this.direct ? jsonIndex : undefined);
    const context: MethodContext = {
      scope,
      resourceType,
      originalId: typeof resource.id === 'string' ? resource.id : '',
      dateShiftSource,
      seed: this.seed,
    };
    for (const rule of this.rules.forType(resourceType)) {
      try {
        this.applyRule(rule, context, labels);
      } catch (error) {
        if (error instanceof RuleFailure) throw error;
        // Errors from FHIRPath may quote values; only our own failures carry a reason we may repeat.
        const reason = error instanceof ProcessingFailure ? error.message : 'the rule could not be evaluated';
        throw new RuleFailure(resourceType, rule, reason);
      }
    }
    if (!mayHoldResources(resource)) return;
    for (const holder of scope.index().nested) {
      const nested = readValue(holder);
      if (!isJsonObject(nested)) continue;
      this.processResource(nested, holder.key === 'contained' ? dateShiftSource : nested, labels);
    }
  }

  private applyRule(rule: CompiledRule, context: MethodContext, labels: Set<SecurityLabel>): void {
    const { scope } = context;
    const method = this.byRule.get(rule);
    if (!method) return;
    if (!rule.expression) {
      this.applyTo(scope.rootElement, method, context, labels);
      return;
    }
    if (rule.plan && scope.direct) {
      const head = evaluateHead(rule.plan, scope);
      if (head && (rule.plan.complete || head.length === 0)) {
        for (const element of head) this.applyTo(element, method, context, labels);
        return;
      }
    }
    for (const node of rule.expression(scope.resource, scope)) {
      if (!isResourceNode(node)) continue;
      const element = scope.elementOf(node);
      if (element) this.applyTo(element, method, context, labels);
    }
  }

  private applyTo(
    element: Element,
    method: NodeMethod,
    context: MethodContext,
    labels: Set<SecurityLabel>,
  ): void {
    const { scope } = context;
    // Nested resources are processed on their own, by the rules of their type.
    if (element.nested || scope.isProcessed(element)) return;
    if (method.wholeSubtree) {
      const label = method.apply(element, context);
      if (label) labels.add(label);
      scope.markProcessed(element);
    } else {
      this.walk(element, method, context, labels);
    }
  }

  /** The method on a node and each descendant that no earlier rule reached. */
  private walk(
    element: Element,
    method: NodeMethod,
    context: MethodContext,
    labels: Set<SecurityLabel>,
  ): void {
    const { scope } = context;
    if (scope.isMarked(element)) return;
    const value = readValue(element);
    if (value !== null && value !== undefined) {
      const label = method.apply(element, context);
      if (label) labels.add(label);
    }
    scope.markProcessed(element);
    const hasChildren = isJsonObject(value) || element.container[`_${element.key}`] !== undefined;
    if (!hasChildren) return;
    for (const child of scope.index().children.get(element.loc) ?? [])
      this.walk(child, method, context, labels);
  }
}
