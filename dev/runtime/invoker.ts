import { randomUUID } from 'node:crypto';
import {
  FunctionRegistration,
  RpcBindingInfo,
  RpcInvocationResponse,
  RpcParameterBinding,
  RpcTypedData,
  getProgrammingModel,
  getRegistrations,
} from './functionsCore';
import type { ActivityFault } from './activityFaults';
import type { DurableTrace } from './durableTrace';

/**
 * Invokes captured functions the way the worker does: core context → programming model's invocation
 * model → getArguments → invokeFunction → getResponse. Trigger data and results travel as RpcTypedData,
 * so `@azure/functions` and `durable-functions` run their real conversion code.
 */
export interface DurableClientData {
  taskHubName: string;
  creationUrls: Record<string, string>;
  managementUrls: Record<string, string>;
  rpcBaseUrl: string;
  baseUrl: string;
  requiredQueryStringParameters: string;
}

export type LogLine = (line: string) => void;

export interface InvocationOutcome extends RpcInvocationResponse {
  /** The handler returned null or undefined: with HTTP streams, no response goes to the proxy. */
  returnedNothing: boolean;
}

/** What the host sends besides the trigger data (HTTP streams: the invocation's id and the request's metadata). */
export interface InvocationRequestParts {
  invocationId?: string;
  triggerMetadata?: Record<string, RpcTypedData>;
}

export class FunctionInvoker {
  constructor(
    private readonly clientData: () => DurableClientData,
    private readonly log: LogLine,
    private readonly trace?: DurableTrace,
    private readonly activityFault?: ActivityFault,
  ) {}

  find(name: string): FunctionRegistration | undefined {
    return getRegistrations().get(name);
  }

  /** All registrations whose trigger binding has the given type (e.g. `httpTrigger`). */
  byTrigger(triggerType: string): FunctionRegistration[] {
    return [...getRegistrations().values()].filter((r) => triggerOf(r)?.binding.type === triggerType);
  }

  /**
   * What the programming model adds to the worker's capabilities when the worker starts: with HTTP
   * streams, `HttpUri`, the proxy that HTTP invocations are forwarded to.
   */
  async capabilities(): Promise<Record<string, string>> {
    return (await getProgrammingModel()?.getCapabilities?.({})) ?? {};
  }

  async invoke(
    registration: FunctionRegistration,
    triggerData: RpcTypedData | undefined,
    parts: InvocationRequestParts = {},
  ): Promise<InvocationOutcome> {
    const model = getProgrammingModel();
    if (!model) {
      throw new Error('No programming model registered: was the app loaded through @azure/functions?');
    }
    const trigger = triggerOf(registration);
    if (!trigger) {
      throw new Error(`Function '${registration.metadata.name}' has no trigger binding`);
    }
    const inputData: RpcParameterBinding[] = [{ name: trigger.name, data: triggerData }];
    for (const [name, binding] of Object.entries(registration.metadata.bindings)) {
      if (binding.direction !== 'in' || name === trigger.name) {
        continue;
      }
      if (binding.type === 'durableClient' || binding.type === 'orchestrationClient') {
        inputData.push({ name, data: { string: JSON.stringify(this.clientData()) } });
      } else {
        this.log(`[local] input binding '${name}' of type '${binding.type}' is not supported locally`);
      }
    }
    const invocationId = parts.invocationId ?? randomUUID();
    const functionName = registration.metadata.name;
    const invocationModel = model.getInvocationModel({
      invocationId,
      metadata: registration.metadata,
      request: { invocationId, inputData, triggerMetadata: parts.triggerMetadata ?? {} },
      log: (level, category, message) => {
        if (category !== 'system' || level === 'warning' || level === 'error') {
          this.log(`[${functionName}] ${message}`);
        }
      },
    });
    const traced = this.trace && durableTriggerOf(trigger.binding);
    const startedAt = Date.now();
    const record = (outcome: { output: RpcTypedData | null | undefined } | { error: string }): void => {
      if (traced) {
        const ms = Date.now() - startedAt;
        this.trace?.({
          function: functionName,
          trigger: traced,
          input: triggerData,
          ...outcome,
          startedAt,
          ms,
        });
      }
    };
    try {
      if (trigger.binding.type === 'activityTrigger') this.activityFault?.(functionName);
      const { context, inputs } = await invocationModel.getArguments();
      const result = await invocationModel.invokeFunction(context, inputs, registration.callback);
      const response = await invocationModel.getResponse(context, result);
      record({ output: response.returnValue });
      return { ...response, returnedNothing: result === undefined || result === null };
    } catch (error) {
      record({ error: String(error) });
      throw error;
    }
  }
}

export function triggerOf(
  registration: FunctionRegistration,
): { name: string; binding: RpcBindingInfo } | undefined {
  for (const [name, binding] of Object.entries(registration.metadata.bindings)) {
    if (
      binding.direction === 'in' &&
      typeof binding.type === 'string' &&
      binding.type.toLowerCase().endsWith('trigger')
    ) {
      return { name, binding };
    }
  }
  return undefined;
}

function durableTriggerOf(binding: RpcBindingInfo): 'orchestrationTrigger' | 'activityTrigger' | undefined {
  return binding.type === 'orchestrationTrigger' || binding.type === 'activityTrigger'
    ? binding.type
    : undefined;
}

/** Decodes a returned RpcTypedData into the JSON text the extension stores in history (`null` when empty). */
export function typedDataToJsonText(data: RpcTypedData | null | undefined): string {
  if (!data) {
    return 'null';
  }
  if (typeof data.json === 'string') {
    return data.json;
  }
  if (typeof data.string === 'string') {
    return JSON.stringify(data.string);
  }
  if (typeof data.int === 'number') {
    return String(data.int);
  }
  if (typeof data.double === 'number') {
    return String(data.double);
  }
  const bytes = data.bytes ?? data.stream;
  if (bytes) {
    return JSON.stringify(Buffer.from(bytes).toString('base64'));
  }
  return 'null';
}

export function typedDataToBuffer(data: RpcTypedData | null | undefined): Buffer {
  if (!data) {
    return Buffer.alloc(0);
  }
  const bytes = data.bytes ?? data.stream;
  if (bytes) {
    return Buffer.from(bytes);
  }
  if (typeof data.string === 'string') {
    return Buffer.from(data.string);
  }
  if (typeof data.json === 'string') {
    return Buffer.from(data.json);
  }
  if (typeof data.int === 'number' || typeof data.double === 'number') {
    return Buffer.from(String(data.int ?? data.double));
  }
  return Buffer.alloc(0);
}
