/**
 * HTTP triggers of an app with HTTP streams: the host forwards each request to the worker's proxy
 * and streams the answer back while the handler is still producing it.
 */
import { gates } from '../../fixtures/localRuntime/httpApp';
import { describeHttpHost } from './httpHostSuite';
import { waitFor } from './helpers';

describeHttpHost('httpStreamApp', (runtime) => {
  test('a response body reaches the client while the handler is still writing it', async () => {
    const response = await fetch(`${runtime().apiBaseUrl}/drip/d1`);
    expect(response.status).toBe(200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    expect(Buffer.from(first.value as Uint8Array).toString()).toBe('first\n');
    (await waitFor(() => gates.get('d1')))('second\n');
    let rest = '';
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      rest += Buffer.from(chunk.value).toString();
    }
    expect(rest).toBe('second\n');
  });

  test('a body that fails half-way breaks the response instead of ending it short', async () => {
    const response = await fetch(`${runtime().apiBaseUrl}/broken`);
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
  });
});
