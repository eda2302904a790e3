import { InvalidTransitionError } from '../../src/export/errors';
import {
  assertTransition,
  canTransition,
  isActiveStatus,
  isFinalStatus,
  JOB_TRANSITIONS,
} from '../../src/export/jobLifecycle';
import type { JobStatus } from '../../src/export/model';

const ALL: JobStatus[] = ['Queued', 'Running', 'Completed', 'Failed', 'Cancelled'];
const ALLOWED = new Set([
  'Queued>Running',
  'Queued>Cancelled',
  'Queued>Failed',
  'Running>Completed',
  'Running>Failed',
  'Running>Cancelled',
  // A client deletes a finished export.
  'Completed>Cancelled',
  'Failed>Cancelled',
]);

describe('job lifecycle', () => {
  test.each(ALL.flatMap((from) => ALL.map((to) => [from, to] as const)))(
    '%s → %s follows the table',
    (from, to) => {
      const allowed = ALLOWED.has(`${from}>${to}`);
      expect(canTransition(from, to)).toBe(allowed);
      if (allowed) expect(() => assertTransition(from, to)).not.toThrow();
      else expect(() => assertTransition(from, to)).toThrow(InvalidTransitionError);
    },
  );

  test('the error says which transition was refused and maps to 409', () => {
    let error: unknown;
    try {
      assertTransition('Cancelled', 'Running');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidTransitionError);
    expect((error as InvalidTransitionError).message).toContain('Cancelled to Running');
    expect((error as InvalidTransitionError).statusCode).toBe(409);
  });

  test('final and active statuses', () => {
    expect(ALL.filter(isFinalStatus)).toEqual(['Completed', 'Failed', 'Cancelled']);
    expect(ALL.filter(isActiveStatus)).toEqual(['Queued', 'Running']);
  });

  test('the table cannot be changed at run time', () => {
    expect(Object.isFrozen(JOB_TRANSITIONS)).toBe(true);
    expect(Object.isFrozen(JOB_TRANSITIONS.Queued)).toBe(true);
  });
});
