// A loopback HTTPS server that plays the part of the IoT Hub service REST API the dynamic providers
// use (api-version 2021-04-12): device identities, twins and configurations, with the hub's rules
// (Entra bearer tokens verified for real: signature, audience https://iothubs.azure.net, expiry; ETags /
// If-Match, "already exists", immutable configuration content), injectable throttling and the 401s of a
// role assignment that has not propagated yet. The narrowest stand-in for Azure that checks every request.
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FakeEntra } from './fake-entra';
import type { TestCertificate } from './tls';

/** The audience of IoT Hub data-plane tokens. */
export const IOT_HUB_AUDIENCE = 'https://iothubs.azure.net';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  ifMatch?: string;
  body: unknown;
}

interface Device {
  deviceId: string;
  generationId: string;
  etag: string;
  status: string;
  capabilities: { iotEdge: boolean };
  authentication: { type: string; symmetricKey: { primaryKey: string; secondaryKey: string } };
}

interface Configuration {
  id: string;
  schemaVersion: string;
  labels: Record<string, string>;
  content: unknown;
  targetCondition: string;
  priority: number;
  etag: string;
  createdTimeUtc: string;
}

export class FakeIotHub {
  readonly devices = new Map<string, Device>();
  readonly twinTags = new Map<string, Record<string, unknown>>();
  readonly configurations = new Map<string, Configuration>();
  readonly requests: RecordedRequest[] = [];
  /** Authorization failures seen (each a reason), to assert that signing was checked. */
  readonly authFailures: string[] = [];
  private faults: Array<{ status: number; headers: Record<string, string> }> = [];
  private etagCounter = 0;
  private server?: https.Server;
  hostName = '';

  /** Requests refused as if the caller's data-plane role had not reached the hub yet. */
  private unauthorizedLeft = 0;

  constructor(
    private readonly cert: TestCertificate,
    private readonly entra: FakeEntra,
  ) {}

  /** The next `count` requests get 401 although their token is valid (role assignment still propagating). */
  denyNext(count: number): void {
    this.unauthorizedLeft = count;
  }

  async start(): Promise<string> {
    this.server = https.createServer({ key: this.cert.key, cert: this.cert.cert }, (req, res) => {
      this.handle(req, res).catch((e: unknown) => this.send(res, 500, { Message: String(e) }));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.hostName = `localhost:${(this.server.address() as AddressInfo).port}`;
    return this.hostName;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** The next `count` requests fail with `status` (e.g. 429 with Retry-After). */
  failNext(status: number, count = 1, headers: Record<string, string> = {}): void {
    for (let i = 0; i < count; i++) this.faults.push({ status, headers });
  }

  private nextEtag(): string {
    return Buffer.from(`etag-${++this.etagCounter}`).toString('base64');
  }

  private send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', `https://${this.hostName}`);
    const body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    const ifMatch = req.headers['if-match'];
    this.requests.push({ method: req.method ?? '', path: url.pathname, query: Object.fromEntries(url.searchParams), ifMatch, body });

    let authProblem = this.entra.verify(req.headers.authorization, IOT_HUB_AUDIENCE);
    if (!authProblem && this.unauthorizedLeft > 0) {
      this.unauthorizedLeft--;
      authProblem = 'role not propagated yet';
    }
    if (authProblem) {
      this.authFailures.push(authProblem);
      return this.send(res, 401, { Message: 'ErrorCode:IotHubUnauthorizedAccess;Unauthorized' });
    }
    if (url.searchParams.get('api-version') !== '2021-04-12') return this.send(res, 400, { Message: 'ErrorCode:InvalidApiVersion' });
    const fault = this.faults.shift();
    if (fault) return this.send(res, fault.status, { Message: 'ErrorCode:ThrottlingException;throttled' }, fault.headers);

    const [, collection, rawId] = url.pathname.split('/');
    const id = decodeURIComponent(rawId ?? '');
    const etagOk = (current: string) => ifMatch === '*' || ifMatch === `"${current}"`;

    if (collection === 'devices') {
      const device = this.devices.get(id);
      if (req.method === 'GET') return device ? this.send(res, 200, device) : this.send(res, 404, { Message: 'ErrorCode:DeviceNotFound' });
      if (req.method === 'DELETE') {
        if (!device) return this.send(res, 404, { Message: 'ErrorCode:DeviceNotFound' });
        if (!etagOk(device.etag)) return this.send(res, 412, { Message: 'ErrorCode:PreconditionFailed' });
        this.devices.delete(id);
        this.twinTags.delete(id);
        return this.send(res, 204);
      }
      if (req.method === 'PUT') {
        const b = body as Partial<Device>;
        if (b.deviceId !== id) return this.send(res, 400, { Message: 'ErrorCode:ArgumentInvalid;deviceId mismatch' });
        if (device && !ifMatch) return this.send(res, 409, { Message: 'ErrorCode:DeviceAlreadyExists;A device with this id already exists' });
        if (device && !etagOk(device.etag)) return this.send(res, 412, { Message: 'ErrorCode:PreconditionFailed' });
        if (!device && ifMatch) return this.send(res, 404, { Message: 'ErrorCode:DeviceNotFound' });
        const keys = b.authentication?.symmetricKey;
        const next: Device = {
          deviceId: id,
          generationId: device?.generationId ?? String(Date.now()),
          etag: this.nextEtag(),
          status: b.status ?? 'enabled',
          capabilities: { iotEdge: Boolean(b.capabilities?.iotEdge) },
          authentication: {
            type: 'sas',
            symmetricKey: {
              primaryKey: keys?.primaryKey || device?.authentication.symmetricKey.primaryKey || randomBytes(32).toString('base64'),
              secondaryKey: keys?.secondaryKey || device?.authentication.symmetricKey.secondaryKey || randomBytes(32).toString('base64'),
            },
          },
        };
        this.devices.set(id, next);
        if (!device) this.twinTags.set(id, {});
        return this.send(res, 200, next);
      }
    }

    if (collection === 'twins') {
      const device = this.devices.get(id);
      if (!device) return this.send(res, 404, { Message: 'ErrorCode:DeviceNotFound' });
      if (req.method === 'GET') return this.send(res, 200, { deviceId: id, tags: this.twinTags.get(id), capabilities: device.capabilities });
      if (req.method === 'PATCH') {
        if (!ifMatch) return this.send(res, 428, { Message: 'ErrorCode:PreconditionRequired' });
        const tags = { ...this.twinTags.get(id) };
        for (const [k, v] of Object.entries(((body as { tags?: Record<string, unknown> }).tags ?? {}))) {
          if (v === null) delete tags[k];
          else tags[k] = v;
        }
        this.twinTags.set(id, tags);
        return this.send(res, 200, { deviceId: id, tags });
      }
    }

    if (collection === 'configurations') {
      const current = this.configurations.get(id);
      if (req.method === 'GET') return current ? this.send(res, 200, current) : this.send(res, 404, { Message: 'ErrorCode:ConfigurationNotFound' });
      if (req.method === 'DELETE') {
        if (!current) return this.send(res, 404, { Message: 'ErrorCode:ConfigurationNotFound' });
        this.configurations.delete(id);
        return this.send(res, 204);
      }
      if (req.method === 'PUT') {
        const b = body as Partial<Configuration>;
        if (b.id !== id) return this.send(res, 400, { Message: 'ErrorCode:ArgumentInvalid;id mismatch' });
        if (current && !ifMatch) return this.send(res, 409, { Message: 'ErrorCode:ConfigurationAlreadyExists' });
        if (current && !etagOk(current.etag)) return this.send(res, 412, { Message: 'ErrorCode:PreconditionFailed' });
        if (current && JSON.stringify(current.content) !== JSON.stringify(b.content)) {
          return this.send(res, 400, { Message: 'ErrorCode:ArgumentInvalid;Configuration content cannot be updated' });
        }
        const next: Configuration = {
          id,
          schemaVersion: b.schemaVersion ?? '1.0',
          labels: b.labels ?? {},
          content: b.content,
          targetCondition: b.targetCondition ?? '',
          priority: b.priority ?? 0,
          etag: this.nextEtag(),
          createdTimeUtc: current?.createdTimeUtc ?? new Date().toISOString(),
        };
        this.configurations.set(id, next);
        return this.send(res, 200, next);
      }
    }
    return this.send(res, 404, { Message: `ErrorCode:NotFound;${req.method} ${url.pathname}` });
  }
}
