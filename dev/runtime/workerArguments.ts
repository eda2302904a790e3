/**
 * Node options of the process that runs the functions. They are the same for `npm start`, the
 * bench and the tests' app processes as on Azure, where `infra/main.bicep` passes them in the
 * `languageWorkers__node__arguments` app setting (a test keeps the two equal).
 *
 * `--heap-growing-percent=100`: after a full collection V8 lets the old generation grow to about
 * three times what survived before it collects again. A page's objects live through a page step and
 * get promoted, so a long export's heap drifts up to that bound. Twice what survived keeps a large
 * export's peak RSS lower for about the same CPU (`docs/performance.md`, "Memory").
 */
export const WORKER_NODE_ARGUMENTS: readonly string[] = ['--heap-growing-percent=100'];
