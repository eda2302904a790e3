/**
 * A tiny OAuth2 token endpoint (client credentials grant) on 127.0.0.1 for tests. Tokens are
 * `test-token-1`, `test-token-2`, …; `issued` lists them in order, so a test can count them and a
 * FHIR test server can accept only some of them.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TokenEndpointOptions {
  clientId: string;
  clientSecret: string;
  /** `expires_in` of each token, in seconds (default 3600). */
  expiresIn?: number;
}

export interface TokenEndpoint {
  /** The token URL to POST to. */
  url: string;
  /** Access tokens issued so far, oldest first. */
  issued: string[];
  /** Form bodies received (parsed), including refused ones. */
  requests: Record<string, string>[];
  close(): Promise<void>;
}

export async function startTokenEndpoint(options: TokenEndpointOptions): Promise<TokenEndpoint> {
  const issued: string[] = [];
  const requests: Record<string, string>[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      requests.push(form);
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify(body));
      };
      if (req.method !== 'POST') return reply(405, { error: 'invalid_request' });
      if (form.grant_type !== 'client_credentials') return reply(400, { error: 'unsupported_grant_type' });
      if (form.client_id !== options.clientId || form.client_secret !== options.clientSecret) {
        return reply(401, { error: 'invalid_client', error_description: 'unknown client or wrong secret' });
      }
      const token = `test-token-${issued.length + 1}`;
      issued.push(token);
      reply(200, { access_token: token, token_type: 'Bearer', expires_in: options.expiresIn ?? 3600 });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth2/token`,
    issued,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
