/** A kick-off parameter of FHIR type boolean (`allowPartialManifests`): `true`, `false` or absent. */
import { clip } from '../util/clientText';
import { BadRequestError } from './errors';

/** The one value of boolean parameter `name`; absent is false. */
export function booleanParameter(name: string, values: readonly string[] | undefined): boolean {
  if (values === undefined || values.length === 0) return false;
  if (values.length > 1) throw new BadRequestError(`${name} may be given only once.`);
  const [value] = values;
  if (value !== 'true' && value !== 'false') {
    throw new BadRequestError(`${name} must be true or false, not "${clip(value)}".`);
  }
  return value === 'true';
}
