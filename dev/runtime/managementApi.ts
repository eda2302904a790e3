import type { DurableClientData } from './invoker';
import { InstanceConflictError, OrchestrationEngine, UnknownOrchestratorError } from './orchestrationEngine';
import { historyView } from './historyView';

/**
 * The durable extension's HTTP management API (`/runtime/webhooks/durabletask/...`): what
 * `DurableClient` calls through `rpcBaseUrl`, and what the `statusQueryGetUri`-style links point at.
 */
export const managementPrefix = '/runtime/webhooks/durabletask';

const instanceIdPlaceholder = 'INSTANCEID';

export interface ApiRequest {
  method: string;
  /** Path below the management prefix, split and URL-decoded. */
  segments: string[];
  query: URLSearchParams;
  body: Buffer;
  /** Origin the caller used (links in answers point back at it). */
  origin: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface ApiResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/**
 * Where the app's own durable client reaches the API (`rpcBaseUrl`), as the extension's loopback-only
 * RPC listener on Azure: without a key, so under a path nobody outside this process knows.
 */
export function rpcPrefix(secret: string): string {
  return `/runtime/durabletask-rpc/${secret}`;
}

/**
 * The JSON the host hands to functions with a `durableClient` input. With a host key (hostKeys.ts)
 * the management links carry it as `code`, as the Functions host's links carry its system key.
 */
export function buildClientData(
  origin: string,
  taskHubName: string,
  keys: { hostKey?: string; rpcSecret?: string } = {},
): DurableClientData {
  const base = `${origin}${managementPrefix}`;
  const code = keys.hostKey === undefined ? '' : `&code=${encodeURIComponent(keys.hostKey)}`;
  const hub = `taskHub=${encodeURIComponent(taskHubName)}&connection=Storage${code}`;
  const instance = `${base}/instances/${instanceIdPlaceholder}`;
  return {
    taskHubName,
    creationUrls: {
      createNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?${hub}`,
      createAndWaitOnNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&${hub}`,
    },
    managementUrls: {
      id: instanceIdPlaceholder,
      statusQueryGetUri: `${instance}?${hub}`,
      sendEventPostUri: `${instance}/raiseEvent/{eventName}?${hub}`,
      terminatePostUri: `${instance}/terminate?reason={text}&${hub}`,
      rewindPostUri: `${instance}/rewind?reason={text}&${hub}`,
      purgeHistoryDeleteUri: `${instance}?${hub}`,
      restartPostUri: `${instance}/restart?${hub}`,
      suspendPostUri: `${instance}/suspend?reason={text}&${hub}`,
      resumePostUri: `${instance}/resume?reason={text}&${hub}`,
    },
    rpcBaseUrl: keys.rpcSecret === undefined ? `${base}/` : `${origin}${rpcPrefix(keys.rpcSecret)}/`,
    baseUrl: base,
    requiredQueryStringParameters: hub,
  };
}

/** The check-status payload (`id`, `statusQueryGetUri`, …) for one instance. */
export function managementPayload(
  origin: string,
  taskHubName: string,
  instanceId: string,
  hostKey?: string,
): Record<string, string> {
  const payload: Record<string, string> = {};
  for (const [key, url] of Object.entries(buildClientData(origin, taskHubName, { hostKey }).managementUrls)) {
    payload[key] = url.replace(instanceIdPlaceholder, encodeURIComponent(instanceId));
  }
  payload.id = instanceId;
  return payload;
}

function flag(query: URLSearchParams, name: string, fallback: boolean): boolean {
  const value = query.get(name);
  return value === null ? fallback : value.toLowerCase() === 'true';
}

export function handleManagementRequest(
  engine: OrchestrationEngine,
  taskHubName: string,
  request: ApiRequest,
  hostKey?: string,
): ApiResponse {
  const { method, segments, query } = request;
  const [resource, id, action] = segments;

  if (resource === 'orchestrators' && method === 'POST' && id && segments.length <= 3) {
    let input: unknown;
    try {
      const text = request.body.toString('utf8');
      input = text.trim().length > 0 ? (JSON.parse(text) as unknown) : undefined;
    } catch {
      return { status: 400, body: { message: 'The request body is not valid JSON.' } };
    }
    try {
      const instanceId = engine.start(id, input, segments[2]);
      const payload = managementPayload(request.origin, taskHubName, instanceId, hostKey);
      return { status: 202, headers: { Location: payload.statusQueryGetUri }, body: payload };
    } catch (error) {
      if (error instanceof InstanceConflictError) {
        // The extension's field name, capitalised as .NET serializes it.
        return { status: 409, body: { Message: error.message } };
      }
      if (error instanceof UnknownOrchestratorError) {
        return { status: 400, body: { message: error.message } };
      }
      throw error;
    }
  }

  if (resource !== 'instances') {
    return { status: 404, body: { message: 'Not found' } };
  }

  if (!id) {
    const wanted = query.get('runtimeStatus')?.split(',').filter(Boolean);
    const from = query.get('createdTimeFrom');
    const to = query.get('createdTimeTo');
    const matches = engine
      .list()
      .filter((s) => !wanted || wanted.includes(s.runtimeStatus))
      .filter(
        (s) =>
          (!from || s.createdTime >= new Date(from).toISOString()) &&
          (!to || s.createdTime <= new Date(to).toISOString()),
      );
    if (method === 'GET') {
      return { status: 200, body: matches };
    }
    if (method === 'DELETE') {
      const finished = matches.filter((s) => ['Completed', 'Failed', 'Terminated'].includes(s.runtimeStatus));
      finished.forEach((s) => engine.purge(s.instanceId));
      return finished.length > 0
        ? { status: 200, body: { instancesDeleted: finished.length } }
        : { status: 404 };
    }
    return { status: 405 };
  }

  if (!action && method === 'GET') {
    const status = engine.getStatus(id, { showInput: flag(query, 'showInput', true) });
    const history = engine.history(id);
    if (!status || !history) {
      return { status: 404 };
    }
    if (flag(query, 'showHistory', false)) {
      status.historyEvents = historyView(history.events, {
        runtimeStatus: status.runtimeStatus,
        generation: history.isSubOrchestration ? null : 0,
        showHistoryOutput: flag(query, 'showHistoryOutput', false),
      });
    }
    if (
      status.runtimeStatus === 'Pending' ||
      status.runtimeStatus === 'Running' ||
      status.runtimeStatus === 'ContinuedAsNew'
    ) {
      const location = managementPayload(request.origin, taskHubName, id, hostKey).statusQueryGetUri;
      return { status: 202, headers: { Location: location, 'Retry-After': '10' }, body: status };
    }
    const failedAs500 =
      status.runtimeStatus === 'Failed' && flag(query, 'returnInternalServerErrorOnFailure', false);
    return { status: failedAs500 ? 500 : 200, body: status };
  }

  if (!action && method === 'DELETE') {
    return engine.purge(id) ? { status: 200, body: { instancesDeleted: 1 } } : { status: 404 };
  }

  if (action === 'terminate' && method === 'POST') {
    switch (engine.terminate(id, query.get('reason') ?? '')) {
      case 'terminated':
        return { status: 202 };
      case 'notRunning':
        return { status: 410 };
      case 'notFound':
        return { status: 404, body: { message: `No instance with ID '${id}' found.` } };
    }
  }

  return {
    status: 501,
    body: { message: `'${method} instances/{id}/${action ?? ''}' is not supported by the local runtime.` },
  };
}
