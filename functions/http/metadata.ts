/** `GET [base]/metadata`: the CapabilityStatement of a Bulk Data export server. */
import { app } from '@azure/functions';
import { capabilityStatement } from '../../src/export/capabilityStatement';
import { baseUrl, fhirJson, handled } from './respond';

app.http('metadata', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'metadata',
  handler: (request, context) =>
    handled(context, async () => fhirJson(200, capabilityStatement(baseUrl(request)))),
});
