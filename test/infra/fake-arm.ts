// A loopback HTTPS server playing Azure Resource Manager's registries/generateCredentials action, in
// each shape ARM answers a long-running operation with (mode): 200 at once; 202 + Azure-AsyncOperation
// + Location; 202 + Location only; an operation that fails. The Entra bearer token (signature, audience
// https://management.azure.com, expiry) and the api-version are checked on every request.
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FakeEntra } from './fake-entra';

export type Mode = 'sync' | 'async-operation' | 'location' | 'failed';

export const REGISTRY_ID = '/subscriptions/sub/resourceGroups/rg-mdeploy-dev/providers/Microsoft.ContainerRegistry/registries/crmdeploydev';
export const TOKEN_ID = `${REGISTRY_ID}/tokens/edge-pull-token`;
export const ARM_AUDIENCE = 'https://management.azure.com';

export class FakeArm {
  mode: Mode = 'sync';
  readonly requests: Array<{ method: string; path: string; authProblem?: string; body?: unknown }> = [];
  private server?: https.Server;
  private polls = 0;
  /** Bodies of the importImage calls ARM accepted. */
  readonly imports: Array<{ source: { resourceId: string; sourceImage: string }; targetTags: string[]; mode: string }> = [];
  base = '';

  constructor(
    private readonly cert: { key: string; cert: string },
    private readonly entra: FakeEntra,
  ) {}

  async start(): Promise<string> {
    this.server = https.createServer({ key: this.cert.key, cert: this.cert.cert }, (req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.base = `https://localhost:${(this.server.address() as AddressInfo).port}`;
    return this.base;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private result(body: { name: string }) {
    return {
      username: 'edge-pull-token',
      passwords: [
        { name: 'password1', value: body.name === 'password1' ? 'generated-password-1' : 'old-1', creationTime: '2026-01-01T00:00:00Z' },
        { name: 'password2', value: body.name === 'password2' ? 'generated-password-2' : 'old-2', creationTime: '2026-01-01T00:00:00Z' },
      ],
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
    const url = new URL(req.url ?? '/', this.base);
    const authProblem = this.entra.verify(req.headers.authorization, ARM_AUDIENCE);
    this.requests.push({ method: req.method ?? '', path: `${url.pathname}${url.search}`, authProblem, body });
    const send = (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      res.end(payload === undefined ? '' : JSON.stringify(payload));
    };
    if (authProblem) return send(401, { error: { code: 'InvalidAuthenticationToken', message: `The access token is invalid (${authProblem}).` } });

    if (req.method === 'POST' && url.pathname === `${REGISTRY_ID}/generateCredentials`) {
      if (url.searchParams.get('api-version') !== '2023-07-01') return send(400, { error: { code: 'InvalidApiVersion', message: 'bad api-version' } });
      if (body?.tokenId !== TOKEN_ID) return send(400, { error: { code: 'InvalidTokenId', message: 'unknown token' } });
      this.polls = 0;
      this.pending = body;
      const op = `${this.base}/operations/op1?api-version=2023-07-01`;
      const loc = `${this.base}/results/op1?api-version=2023-07-01`;
      if (this.mode === 'sync') return send(200, this.result(body));
      if (this.mode === 'location') return send(202, undefined, { Location: loc, 'Retry-After': '0' });
      return send(202, undefined, { 'Azure-AsyncOperation': op, Location: loc, 'Retry-After': '0' });
    }
    if (req.method === 'POST' && url.pathname === `${REGISTRY_ID}/importImage`) {
      if (url.searchParams.get('api-version') !== '2023-07-01') return send(400, { error: { code: 'InvalidApiVersion', message: 'bad api-version' } });
      if (!/^\/subscriptions\/.+\/registries\/[A-Za-z0-9]+$/.test(String(body?.source?.resourceId)) || !/^[a-z0-9-]+@sha256:[0-9a-f]{64}$/.test(String(body?.source?.sourceImage))) {
        return send(400, { error: { code: 'InvalidParameter', message: 'source.resourceId and source.sourceImage (repository@digest) are required' } });
      }
      this.imports.push(body);
      this.polls = 0;
      this.pending = { name: 'password1' };
      return send(202, undefined, { Location: `${this.base}/results/op1?api-version=2023-07-01`, 'Retry-After': '0' });
    }
    if (req.method === 'GET' && url.pathname === '/operations/op1') {
      this.polls++;
      if (this.polls < 2) return send(200, { status: 'InProgress' }, { 'Retry-After': '0' });
      if (this.mode === 'failed') return send(200, { status: 'Failed', error: { code: 'TokenNotFound', message: 'token was deleted' } });
      return send(200, { status: 'Succeeded' });
    }
    if (req.method === 'GET' && url.pathname === '/results/op1') {
      this.polls++;
      if (this.mode === 'location' && this.polls < 2) return send(202, undefined, { 'Retry-After': '0' });
      return send(200, this.result(this.pending as { name: string }));
    }
    return send(404, { error: { code: 'NotFound', message: `${req.method} ${url.pathname}` } });
  }

  private pending: unknown;
}

