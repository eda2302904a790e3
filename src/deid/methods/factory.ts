/** Builds each rule's method once per job, with the job's keys. */
import type { CompiledRule } from '../compiledRules';
import type { DeidParameters } from '../configuration';
import type { DeidKeys } from '../contract';
import { cryptoHashMethod } from './cryptoHash';
import { dateShiftMethod } from './dateShift';
import { encryptMethod } from './encrypt';
import { generalizeMethod } from './generalize';
import type { NodeMethod } from './method';
import { perturbMethod } from './perturb';
import { redactMethod } from './redact';
import { substituteMethod } from './substitute';

const KEEP: NodeMethod = { wholeSubtree: true, apply: () => undefined };

export function buildMethod(rule: CompiledRule, parameters: DeidParameters, keys: DeidKeys): NodeMethod {
  const { spec } = rule;
  switch (spec.method) {
    case 'keep':
      return KEEP;
    case 'redact':
      return redactMethod(parameters);
    case 'cryptoHash':
      return cryptoHashMethod(keys.cryptoHashKey);
    case 'encrypt':
      return encryptMethod(keys.encryptKey);
    case 'dateShift':
      return dateShiftMethod({
        key: keys.dateShiftKey,
        fixedOffsetInDays: parameters.dateShiftFixedOffsetInDays,
      });
    case 'perturb':
      return perturbMethod(spec.perturb ?? { span: 0, rangeType: 'fixed' });
    case 'substitute':
      return substituteMethod(spec.replaceWith ?? '');
    case 'generalize':
      return generalizeMethod(rule.cases, spec.generalize?.otherValues ?? 'redact');
  }
}
