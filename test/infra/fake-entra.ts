// A loopback HTTPS server playing the token endpoint a workload reaches through @azure/identity's
// DefaultAzureCredential: the managed-identity endpoint (IDENTITY_ENDPOINT + IDENTITY_HEADER, api-version
// 2019-08-01), which hands out Entra access tokens for a `resource` (the audience). The real credential
// is used unchanged; only its environment points here. (Entra's authority-based flows first run
// instance discovery against login.microsoftonline.com, which cannot be reached from here.)
// Tokens are HS256 JWTs the fake ARM and IoT Hub servers verify: signature, audience, expiry.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TestCertificate } from './tls';

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

export class FakeEntra {
  /** Every token request: the audience asked for, and whether the identity header was right. */
  readonly requests: Array<{ resource: string; headerOk: boolean }> = [];
  readonly objectId = 'deployer-object-id';
  private readonly key = randomBytes(32);
  private readonly identityHeader = randomBytes(16).toString('hex');
  private server?: https.Server;
  endpoint = '';

  constructor(private readonly cert: TestCertificate) {}

  async start(): Promise<void> {
    this.server = https.createServer({ key: this.cert.key, cert: this.cert.cert }, (req, res) => {
      const url = new URL(req.url ?? '/', 'https://localhost');
      const resource = url.searchParams.get('resource') ?? '';
      const headerOk = req.headers['x-identity-header'] === this.identityHeader;
      this.requests.push({ resource, headerOk });
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (url.pathname !== '/msi/token' || url.searchParams.get('api-version') !== '2019-08-01') return send(404, { error: 'not_found' });
      if (!headerOk) return send(401, { error: 'invalid_identity_header' });
      if (!resource) return send(400, { error: 'invalid_request', error_description: 'resource is required' });
      const expiresOn = Math.floor(Date.now() / 1000) + 3600;
      send(200, { access_token: this.issue(resource, expiresOn), expires_on: String(expiresOn), resource, token_type: 'Bearer' });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.endpoint = `https://localhost:${(this.server.address() as AddressInfo).port}/msi/token`;
  }

  /** Points DefaultAzureCredential of this process at this endpoint (and nowhere else). */
  useInProcess(): void {
    for (const k of ['AZURE_CLIENT_ID', 'AZURE_TENANT_ID', 'AZURE_CLIENT_SECRET', 'AZURE_FEDERATED_TOKEN_FILE', 'MSI_ENDPOINT', 'MSI_SECRET']) delete process.env[k];
    process.env.IDENTITY_ENDPOINT = this.endpoint;
    process.env.IDENTITY_HEADER = this.identityHeader;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** A signed token for `audience`, as Entra would issue to the deployer. */
  issue(audience: string, expiresOn = Math.floor(Date.now() / 1000) + 3600): string {
    const head = b64url({ alg: 'HS256', typ: 'JWT' });
    const body = b64url({ aud: audience, iss: 'https://sts.windows.net/tenant/', oid: this.objectId, exp: expiresOn });
    const sig = createHmac('sha256', this.key).update(`${head}.${body}`).digest('base64url');
    return `${head}.${body}.${sig}`;
  }

  /** Why an Authorization header would be refused by a service whose audience is `audience`, or undefined. */
  verify(authorization: string | undefined, audience: string): string | undefined {
    const m = /^Bearer ([\w-]+)\.([\w-]+)\.([\w-]+)$/.exec(authorization ?? '');
    if (!m) return 'no bearer token';
    const expected = createHmac('sha256', this.key).update(`${m[1]}.${m[2]}`).digest();
    const given = Buffer.from(m[3]!, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad signature';
    const claims = JSON.parse(Buffer.from(m[2]!, 'base64url').toString('utf8')) as { aud?: string; exp?: number };
    if (claims.aud !== audience) return `audience ${claims.aud} is not ${audience}`;
    if (!claims.exp || claims.exp * 1000 < Date.now()) return 'expired';
    return undefined;
  }
}
