/** Kick-off: `[base]/$export`, `[base]/Patient/$export`, `[base]/Group/{groupId}/$export`. */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { allowedTypes, assertCanExport } from '../../src/auth';
import { createExportJob } from '../../src/export/kickoff';
import { parseKickoff } from '../../src/export/kickoffRequest';
import { reportedWarnings } from '../../src/export/kickoffWarnings';
import { failJob } from '../../src/export/jobActions';
import { checkTypesWithSource } from '../../src/export/sourceTypes';
import { typesToExport } from '../../src/export/jobPlan';
import type { ExportLevel } from '../../src/export/model';
import { getServices } from '../../src/services';
import { ORCHESTRATOR_EXPORT_JOB } from '../names';
import { repairWithOrchestration } from '../durable/jobRepair';
import { jobInputOf } from '../durable/orchestrationInput';
import { baseUrl, handled, principalOf } from './respond';

async function kickoff(
  level: ExportLevel,
  request: HttpRequest,
  client: df.DurableClient,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  return handled(context, async () => {
    const services = await getServices();
    const principal = await principalOf(request);
    // Counted per client before any parsing, so junk kick-offs cost the sender too.
    services.kickoffLimiter.check(principal.clientId);
    // Before anything is created: a refused Host must not leave a job behind.
    const base = baseUrl(request);
    const body = request.method === 'POST' ? await services.readBody(request) : undefined;
    const parsed = parseKickoff(
      {
        method: request.method,
        level,
        groupId: request.params.groupId,
        url: request.url,
        headers: request.headers,
        body,
      },
      {
        compartmentTypes: services.exportDeps.compartmentTypes,
        containers: {
          defaultContainer: services.config.storage.container,
          allowed: services.config.storage.allowedContainers,
        },
      },
    );
    // Before the scopes: a type dropped under lenient handling needs no scope.
    await checkTypesWithSource(services.exportDeps, parsed);
    let checkedTypes: string[] | undefined;
    if (allowedTypes(principal.scopes) !== '*') {
      // The very types the plan will export (the source is listed only when `_type` is absent).
      checkedTypes = await typesToExport(services.exportDeps, parsed.request);
      assertCanExport(principal.scopes, checkedTypes);
    }
    const { job, reused } = await createExportJob(
      services.exportDeps,
      parsed,
      principal.clientId,
      checkedTypes,
    );
    if (reused) {
      await repairWithOrchestration(client, services.exportDeps, job);
    } else {
      try {
        await client.startNew(ORCHESTRATOR_EXPORT_JOB, {
          instanceId: job.jobId,
          input: jobInputOf(job),
        });
      } catch (error) {
        // Never leave a Queued job that nothing will run.
        await failJob(services.exportDeps, job.jobId, {
          reason: 'The export could not be started.',
          statusCode: 503,
        });
        throw error;
      }
    }
    const pollUrl = `${base}/_operations/export/${job.jobId}`;
    // The durable management URLs (status, terminate, purge) carry the extension's system key on
    // Azure, which works for every instance of every client: they are handed out only when there is
    // no authentication anyway (local development). See docs/security.md.
    const management =
      services.authenticator.mode === 'none' ? client.createHttpManagementPayload(job.jobId) : {};
    return {
      status: 202,
      headers: { 'Content-Location': pollUrl, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        jobId: job.jobId,
        reused,
        warnings: reportedWarnings(parsed.warnings),
        ...management,
      }),
    };
  });
}

const options = { methods: ['GET', 'POST'] as ('GET' | 'POST')[], authLevel: 'anonymous' as const };

df.app.client.http('exportSystem', {
  ...options,
  route: '$export',
  handler: (request, client, context) => kickoff('system', request, client, context),
});
df.app.client.http('exportPatient', {
  ...options,
  route: 'Patient/$export',
  handler: (request, client, context) => kickoff('patient', request, client, context),
});
df.app.client.http('exportGroup', {
  ...options,
  route: 'Group/{groupId}/$export',
  handler: (request, client, context) => kickoff('group', request, client, context),
});
