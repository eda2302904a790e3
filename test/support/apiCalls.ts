/** Plain HTTP calls to a running app, with or without a bearer token, and checks of their answers. */

export interface Answer {
  status: number;
  headers: Headers;
  body: string;
}

export async function call(
  url: string,
  init: { method?: string; token?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.token) headers.Authorization = `Bearer ${init.token}`;
  const response = await fetch(url, { method: init.method ?? 'GET', headers, body: init.body });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/** Asserts an OperationOutcome answer with `status`; returns the outcome. */
export function expectOutcome(answer: Answer, status: number): Record<string, unknown> {
  expect(answer.status).toBe(status);
  expect(answer.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
  const outcome = JSON.parse(answer.body) as Record<string, unknown>;
  expect(outcome.resourceType).toBe('OperationOutcome');
  return outcome;
}
