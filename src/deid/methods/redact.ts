/**
 * `redact` removes a value, unless a partial flag lets part of it stay: the year of a date, an age
 * up to 89, the first three digits of a postal code outside the restricted areas.
 */
import type { DeidParameters } from '../configuration';
import { isJsonObject, readValue, writeValue, type Element } from '../nodes';
import type { SecurityLabel } from '../securityLabels';
import { isAgeOver89, MAX_AGE, parseFhirDate } from './dates';
import { DATE_TYPES, type NodeMethod } from './method';

/** Removing writes null; the empty node is dropped when the resource is finished. */
export function removeValue(element: Element): SecurityLabel {
  writeValue(element, null);
  return 'REDACTED';
}

/** Zeroes the digits that identify an area smaller than the first three, or all of them in a restricted area. */
export function abstractPostalCode(value: string, restricted: ReadonlySet<string>): string {
  const keep = restricted.has(value.slice(0, 3)) ? 0 : 3;
  let digits = 0;
  return value.replace(/\d/g, (digit) => (digits++ < keep ? digit : '0'));
}

function partialDate(element: Element, value: string): SecurityLabel {
  const parts = parseFhirDate(value);
  if (!parts || isAgeOver89(parts)) return removeValue(element);
  writeValue(element, String(parts.year).padStart(4, '0'));
  return 'ABSTRED';
}

export function redactMethod(parameters: DeidParameters): NodeMethod {
  return {
    wholeSubtree: false,
    apply(element) {
      const value = readValue(element);
      if (isJsonObject(value) || Array.isArray(value)) return undefined;
      if (
        parameters.enablePartialDatesForRedact &&
        DATE_TYPES.has(element.type ?? '') &&
        typeof value === 'string'
      ) {
        return partialDate(element, value);
      }
      if (
        parameters.enablePartialAgesForRedact &&
        element.key === 'value' &&
        element.parent?.type === 'Age'
      ) {
        return typeof value === 'number' && value <= MAX_AGE ? 'ABSTRED' : removeValue(element);
      }
      if (
        parameters.enablePartialZipCodesForRedact &&
        element.key === 'postalCode' &&
        typeof value === 'string'
      ) {
        writeValue(element, abstractPostalCode(value, parameters.restrictedZipCodeTabulationAreas));
        return 'ABSTRED';
      }
      return removeValue(element);
    },
  };
}
