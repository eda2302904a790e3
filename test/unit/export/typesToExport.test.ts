/**
 * `typesToExport`: the types an export covers, which the kick-off checks a limited token against.
 * Pure logic over a scripted source that records whether it was asked to list its types.
 */
import type { ExportDeps } from '../../../src/export/exportDeps';
import { SourceCapabilitiesError } from '../../../src/export/errors';
import { classifyError, OPERATIONS } from '../../../src/export/failureMapping';
import { makePlan, typesToExport } from '../../../src/export/jobPlan';
import { exportRequest } from '../../support/exportRequests';
import { queuedJob } from '../../support/jobRecords';

function depsListing(types: string[]) {
  const calls = { list: 0 };
  const deps = {
    source: {
      listResourceTypes: async () => {
        calls.list += 1;
        return types;
      },
    },
    compartmentTypes: new Set(['Patient', 'Observation']),
  } as unknown as ExportDeps;
  return { deps, calls };
}

describe('typesToExport', () => {
  it('given _type, when resolved, then exactly those types (sorted, once each) and the source is not listed', async () => {
    const { deps, calls } = depsListing(['Patient', 'Observation', 'Device']);
    const types = await typesToExport(deps, exportRequest({ types: ['Patient', 'Device', 'Patient'] }));
    expect(types).toEqual(['Device', 'Patient']);
    expect(calls.list).toBe(0);
  });

  it('given no _type, when resolved, then every type the source lists', async () => {
    const { deps, calls } = depsListing(['Patient', 'Observation', 'Device']);
    expect(await typesToExport(deps, exportRequest())).toEqual(['Device', 'Observation', 'Patient']);
    expect(calls.list).toBe(1);
  });

  it('given a Patient or Group export, when resolved, then only the compartment types, with or without _type', async () => {
    const { deps } = depsListing(['Patient', 'Observation', 'Device']);
    expect(await typesToExport(deps, exportRequest({ level: 'patient' }))).toEqual([
      'Observation',
      'Patient',
    ]);
    expect(
      await typesToExport(
        deps,
        exportRequest({ level: 'group', groupId: 'g', types: ['Device', 'Patient'] }),
      ),
    ).toEqual(['Patient']);
  });

  it('given a source whose CapabilityStatement cannot be read, when the job starts, then it fails 502 with a reason naming the listing of the types', async () => {
    const deps = {
      source: {
        listResourceTypes: () =>
          Promise.reject(
            new SourceCapabilitiesError(
              'its CapabilityStatement (GET [base]/metadata) could not be read: 404',
            ),
          ),
      },
    } as unknown as ExportDeps;
    const error = await typesToExport(deps, exportRequest()).catch((e: unknown) => e);
    expect(classifyError(error, { operation: OPERATIONS.startJob })).toEqual({
      kind: 'permanent',
      failure: {
        reason:
          'The data source failed the listing of its resource types: its CapabilityStatement (GET [base]/metadata) could not be read: 404',
        statusCode: 502,
      },
    });
  });
});

describe('makePlan with the types the kick-off checked', () => {
  it('given a type the source gained after a limited token was checked, when the job is planned, then that type is not exported', async () => {
    const { deps } = depsListing(['Patient', 'Observation', 'Device']);
    const job = queuedJob('job-1', { checkedTypes: ['Observation', 'Patient'] });
    expect((await makePlan(deps, job)).types).toEqual(['Observation', 'Patient']);
    // Without checked types (a token allowed every type) the plan takes whatever the source has.
    expect((await makePlan(deps, queuedJob('job-2'))).types).toEqual(['Device', 'Observation', 'Patient']);
  });
});
