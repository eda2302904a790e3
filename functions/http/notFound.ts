/**
 * Everything under the API route prefix that no other function serves (unknown paths, or a known
 * path with a method it does not take) answers a FHIR `404 OperationOutcome` rather than the host's
 * bare 404. Literal routes always win over this catch-all.
 */
import { app } from '@azure/functions';
import { operationOutcome } from '../../src/export/operationOutcome';
import { fhirJson, handled } from './respond';

app.http('notFound', {
  methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'],
  authLevel: 'anonymous',
  route: '{*path}',
  handler: (_request, context) =>
    handled(context, async () =>
      fhirJson(404, operationOutcome('No operation is served at this path with this method.', 'not-found')),
    ),
});
