/**
 * Stand-in for `@azure/functions-core`, the module the Functions worker injects into the app.
 *
 * `@azure/functions` only registers functions when `require('@azure/functions-core')` succeeds, so the
 * local runtime resolves that name to this file (jest: `moduleNameMapper`; plain node: the
 * `Module._resolveFilename` hook in `moduleHook.ts`). It captures the registrations and the programming
 * model; the types below are the subset of the worker's contract that the runtime uses.
 */

export type RpcLogLevel = 'information' | 'debug' | 'error' | 'trace' | 'warning' | 'critical' | 'none';
export type RpcLogCategory = 'user' | 'system' | 'customMetric';

export interface RpcHttpCookie {
  name?: string | null;
  value?: string | null;
  domain?: { value?: string | null } | null;
  path?: { value?: string | null } | null;
  expires?: { value?: { seconds?: number | null } | null } | null;
  secure?: { value?: boolean | null } | null;
  httpOnly?: { value?: boolean | null } | null;
  sameSite?: string | number | null;
  maxAge?: { value?: number | null } | null;
}

export interface RpcHttpData {
  method?: string | null;
  url?: string | null;
  headers?: Record<string, string> | null;
  body?: RpcTypedData | null;
  params?: Record<string, string> | null;
  statusCode?: string | null;
  query?: Record<string, string> | null;
  cookies?: RpcHttpCookie[] | null;
  enableContentNegotiation?: boolean | null;
}

export interface RpcTypedData {
  string?: string | null;
  json?: string | null;
  bytes?: Uint8Array | null;
  stream?: Uint8Array | null;
  http?: RpcHttpData | null;
  int?: number | null;
  double?: number | null;
}

export interface RpcBindingInfo {
  type?: string | null;
  direction?: 'in' | 'out' | 'inout' | null;
  dataType?: string | null;
  [option: string]: unknown;
}

export interface FunctionMetadata {
  name: string;
  bindings: Record<string, RpcBindingInfo>;
  retryOptions?: unknown;
}

export type FunctionCallback = (...args: unknown[]) => unknown;

export interface RpcParameterBinding {
  name: string;
  data?: RpcTypedData | null;
}

export interface RpcInvocationRequest {
  invocationId: string;
  functionId?: string;
  inputData: RpcParameterBinding[];
  triggerMetadata: Record<string, RpcTypedData>;
}

export interface RpcInvocationResponse {
  invocationId?: string;
  outputData?: RpcParameterBinding[] | null;
  returnValue?: RpcTypedData | null;
}

export interface CoreInvocationContext {
  invocationId: string;
  request: RpcInvocationRequest;
  metadata: FunctionMetadata;
  state?: string;
  log(level: RpcLogLevel, category: RpcLogCategory, message: string): void;
}

export interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], callback: FunctionCallback): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<RpcInvocationResponse>;
}

export interface ProgrammingModel {
  name: string;
  version: string;
  getInvocationModel(coreContext: CoreInvocationContext): InvocationModel;
  /** Called once when the worker starts, after the app is loaded; may add capabilities (`HttpUri`). */
  getCapabilities?(capabilities: Record<string, string>): Promise<Record<string, string>>;
}

export interface FunctionRegistration {
  metadata: FunctionMetadata;
  callback: FunctionCallback;
}

export interface Disposable {
  dispose(): void;
}

type LogSink = (level: RpcLogLevel, category: RpcLogCategory, message: string) => void;

interface CoreState {
  functions: Map<string, FunctionRegistration>;
  programmingModel?: ProgrammingModel;
  logSink?: LogSink;
}

// Kept on globalThis so that every copy of this module (ts source under jest, compiled js under node,
// or both in one process) shares one registry.
const stateKey = Symbol.for('durable-fhir-export.local.functionsCore');

function coreState(): CoreState {
  const holder = globalThis as unknown as Record<symbol, CoreState | undefined>;
  let state = holder[stateKey];
  if (!state) {
    state = { functions: new Map() };
    holder[stateKey] = state;
  }
  return state;
}

/** Called by `@azure/functions` for every `app.*` registration. A later registration of a name replaces it. */
export function registerFunction(metadata: FunctionMetadata, callback: FunctionCallback): Disposable {
  const functions = coreState().functions;
  functions.set(metadata.name, { metadata, callback });
  return { dispose: () => functions.delete(metadata.name) };
}

export function setProgrammingModel(model: ProgrammingModel): void {
  coreState().programmingModel = model;
}

export function getProgrammingModel(): ProgrammingModel | undefined {
  return coreState().programmingModel;
}

/** Lifecycle hooks (appStart, preInvocation, …) are not emulated. */
export function registerHook(_hookName: string, _callback: unknown): Disposable {
  return { dispose: () => undefined };
}

/** System logs of `@azure/functions`; forwarded to the runtime's log sink when one is set. */
export function log(level: RpcLogLevel, category: RpcLogCategory, message: string): void {
  coreState().logSink?.(level, category, message);
}

/** Everything registered so far in this process. */
export function getRegistrations(): ReadonlyMap<string, FunctionRegistration> {
  return coreState().functions;
}

export function setLogSink(sink: LogSink | undefined): void {
  coreState().logSink = sink;
}
