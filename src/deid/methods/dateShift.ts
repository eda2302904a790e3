/**
 * `dateShift`: every date of a resource moves by the same number of days, derived from the
 * resource's id and the key, so intervals within a patient's record survive.
 */
import { readValue, writeValue } from '../nodes';
import { isAgeOver89, parseFhirDate, shiftDate } from './dates';
import { DATE_TYPES, ProcessingFailure, type NodeMethod } from './method';
import { removeValue } from './redact';

/** The anonymizer's offset: a base-131 hash modulo 101 of the UTF-8 bytes of id + key, minus 50. */
export function dateShiftOffset(prefix: string, key: string): number {
  let offset = 0;
  for (const byte of Buffer.from(prefix + key, 'utf8')) offset = (offset * 131 + byte) % 101;
  return offset - 50;
}

export interface DateShiftSettings {
  key: string;
  fixedOffsetInDays?: number;
}

export function dateShiftMethod(settings: DateShiftSettings): NodeMethod {
  return {
    wholeSubtree: false,
    apply(element, context) {
      const value = readValue(element);
      if (!DATE_TYPES.has(element.type ?? '') || typeof value !== 'string') return undefined;
      const parts = parseFhirDate(value);
      if (!parts) throw new ProcessingFailure(`a ${element.type} value is not a valid date`);
      // Without a day the shift cannot be applied; over 89 the date identifies on its own.
      if (parts.day === undefined || isAgeOver89(parts)) return removeValue(element);
      const id = context.dateShiftSource.id;
      const offset =
        settings.fixedOffsetInDays ?? dateShiftOffset(typeof id === 'string' ? id : '', settings.key);
      writeValue(element, shiftDate(parts, offset));
      return 'PERTURBED';
    },
  };
}
