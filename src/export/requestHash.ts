import { createHash } from 'node:crypto';
import type { ExportRequest } from './model';

/**
 * A stable hash of what a request asks for and who asks, so that an identical kick-off can reuse a
 * running job. The request URL is left out: two spellings of one request are the same request.
 * A de-identified export adds the hash of the configuration's bytes as read at kick-off.
 */
export function requestHash(request: ExportRequest, clientId: string, configSha256?: string): string {
  const canonical = {
    clientId,
    level: request.level,
    groupId: request.groupId ?? null,
    types: [...request.types].sort(),
    since: request.since ?? null,
    until: request.until ?? null,
    typeFilters: Object.keys(request.typeFilters)
      .sort()
      .map((type) => [type, [...request.typeFilters[type]].sort()]),
    elements: [...request.elements].sort(),
    patients: [...request.patients].sort(),
    container: request.container ?? null,
    // A configuration changed since a running job read it is another request.
    ...(request.anonymization ? { anonymization: request.anonymization.config, configSha256 } : {}),
    // Only when asked for, so that the hashes of every other request stay as they were.
    ...(request.allowPartialManifests ? { allowPartialManifests: true } : {}),
    ...(request.organizeOutputBy ? { organizeOutputBy: request.organizeOutputBy } : {}),
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}
