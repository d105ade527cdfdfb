// An edgeHub stand-in for tests: a real MQTT 3.1.1 broker (aedes) behind node:tls with a CA and server
// certificate made at test time, checking the module's SAS token, speaking the IoT Hub / edgeHub topic
// conventions the Azure IoT device SDK uses over MQTT:
//   inputs   broker -> module  devices/<d>/modules/<m>/inputs/<input>/<props>
//   outputs  module -> broker  devices/<d>/modules/<m>/messages/events/<props incl. $.on=<output>>
//   twin     $iothub/twin/GET/?$rid=  ->  $iothub/twin/res/200/?$rid=
//            $iothub/twin/PATCH/properties/reported/?$rid=  ->  $iothub/twin/res/204/?$rid=&$version=
//            desired patches: $iothub/twin/PATCH/properties/desired/?$version=
//   methods  $iothub/methods/POST/<name>/?$rid=  ->  $iothub/methods/res/<status>/?$rid=
// Usable from any test (the container tests import it too): start(), moduleEnv(), sendImage(), outputs...
import { createHmac, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import { createTestCertificates, type TestCertificates } from './certificates.js';

export interface EdgeHubOptions {
  /** Device id (default "edge-device"). */
  deviceId?: string;
  /** Module id (default "classifier", the module's name in deployments). */
  moduleId?: string;
  /** IoT Hub host name that goes into the connection string and the SAS token's `sr` (default "edge-hub-test.azure-devices.net"). */
  iotHubHostName?: string;
  /** Address to listen on (default 127.0.0.1; "0.0.0.0" to be reachable from containers). */
  listenHost?: string;
  /** Port (default 0: an ephemeral port). */
  port?: number;
  /** Extra subjectAltNames of the server certificate (DNS names or IPs) beside localhost/127.0.0.1/::1. */
  altNames?: string[];
  /** Initial desired properties of the module twin. */
  desired?: Record<string, unknown>;
  /** Base64 module key (default: random). */
  sharedAccessKey?: string;
}

/** Message properties as IoT Edge carries them (system properties + application properties). */
export interface MessageProperties {
  messageId?: string;
  correlationId?: string;
  contentType?: string;
  contentEncoding?: string;
  /** Application properties (e.g. fileName). */
  properties?: Record<string, string>;
}

export interface OutputMessage extends MessageProperties {
  output: string;
  body: Buffer;
  topic: string;
  /** body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
  receivedAt: number;
}

export interface MethodResult {
  status: number;
  payload: unknown;
}

type Json = Record<string, unknown>;

const SYSTEM_PROPERTIES: Record<string, keyof MessageProperties> = {
  '$.mid': 'messageId',
  '$.cid': 'correlationId',
  '$.ct': 'contentType',
  '$.ce': 'contentEncoding',
};

/** Parses "k=v&k2=v2" as the SDK writes it (URI-encoded keys and values). */
export function parseTopicProperties(segment: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const pair of segment.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const key = decodeURIComponent(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decodeURIComponent(pair.slice(eq + 1));
    result.set(key, value);
  }
  return result;
}

function encodeTopicProperties(props: MessageProperties, extra: Record<string, string>): string {
  const pairs: Array<[string, string]> = Object.entries(extra);
  for (const [key, field] of Object.entries(SYSTEM_PROPERTIES)) {
    const value = props[field];
    if (typeof value === 'string') pairs.push([key, value]);
  }
  for (const [key, value] of Object.entries(props.properties ?? {})) pairs.push([key, value]);
  return pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

function mergePatch(target: Json, patch: Json): void {
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete target[key];
    else if (typeof value === 'object' && !Array.isArray(value)) {
      const current = target[key];
      const child: Json = typeof current === 'object' && current !== null && !Array.isArray(current) ? (current as Json) : {};
      mergePatch(child, value as Json);
      target[key] = child;
    } else target[key] = value;
  }
}

function parseQuery(topic: string): Map<string, string> {
  const q = topic.indexOf('?');
  return q === -1 ? new Map() : parseTopicProperties(topic.slice(q + 1));
}

export class EdgeHub extends EventEmitter {
  readonly deviceId: string;
  readonly moduleId: string;
  readonly iotHubHostName: string;
  readonly sharedAccessKey: string;
  readonly dir: string;
  readonly certificates: TestCertificates;
  /** Every output message the hub has accepted (PUBACKed), in arrival order. */
  readonly outputs: OutputMessage[] = [];
  /** The module twin as the hub holds it. */
  readonly twin: { desired: Json; reported: Json };
  /** Connections whose CONNECT was refused (bad SAS token, wrong client id...). */
  authFailures = 0;
  /** Successful module connections so far. */
  connections = 0;

  private readonly broker: Aedes;
  private readonly server: Server;
  private readonly sockets = new Set<TLSSocket>();
  private readonly listenHost: string;
  private listenPort: number;
  private moduleClient: Client | undefined;
  private readonly subscriptions = new Set<string>();
  private readonly pendingMethods = new Map<string, (result: MethodResult) => void>();
  private methodCounter = 0;
  private heldAcks: Array<() => void> | undefined;

  private constructor(options: EdgeHubOptions, broker: Aedes, dir: string, certificates: TestCertificates) {
    super();
    this.setMaxListeners(0);
    this.deviceId = options.deviceId ?? 'edge-device';
    this.moduleId = options.moduleId ?? 'classifier';
    this.iotHubHostName = options.iotHubHostName ?? 'edge-hub-test.azure-devices.net';
    this.sharedAccessKey = options.sharedAccessKey ?? randomBytes(32).toString('base64');
    this.listenHost = options.listenHost ?? '127.0.0.1';
    this.listenPort = options.port ?? 0;
    this.dir = dir;
    this.certificates = certificates;
    this.twin = { desired: { ...(options.desired ?? {}), $version: 1 }, reported: { $version: 1 } };
    this.broker = broker;
    broker.authenticate = (client, username, password, done) => this.authenticate(client, username, password, done);
    broker.authorizeSubscribe = (client, sub, done) => {
      const allowed = sub.topic.startsWith(`devices/${this.deviceId}/modules/${this.moduleId}/`) || sub.topic.startsWith('$iothub/');
      if (allowed && client === this.moduleClient) this.subscriptions.add(sub.topic);
      done(allowed ? null : new Error(`subscription to ${sub.topic} not allowed`), allowed ? sub : null);
      if (allowed) this.emit('change');
    };
    broker.authorizePublish = (client, packet, done) => {
      const events = `devices/${this.deviceId}/modules/${this.moduleId}/messages/events/`;
      if (client && !packet.topic.startsWith(events) && !packet.topic.startsWith('$iothub/')) {
        done(new Error(`publishing to ${packet.topic} not allowed`));
      } else if (client && this.heldAcks && packet.topic.startsWith(events)) {
        this.heldAcks.push(() => done(client.closed ? new Error('client gone') : null));
      } else done(null);
    };
    broker.on('publish', (packet, client) => {
      if (client) this.onModulePublish(packet.topic, packet.payload as Buffer);
    });
    broker.on('clientDisconnect', (client) => {
      if (client === this.moduleClient) {
        this.moduleClient = undefined;
        this.subscriptions.clear();
        this.emit('change');
      }
    });
    this.server = createServer({ key: certificates.key, cert: certificates.cert }, (socket) => {
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      broker.handle(socket);
    });
  }

  /** Generates the certificates, starts the broker and listens. */
  static async start(options: EdgeHubOptions = {}): Promise<EdgeHub> {
    const dir = mkdtempSync(join(tmpdir(), 'edge-hub-'));
    const certificates = createTestCertificates(dir, options.altNames ?? []);
    const broker = await Aedes.createBroker({ heartbeatInterval: 60_000 });
    const hub = new EdgeHub(options, broker, dir, certificates);
    await hub.listen();
    return hub;
  }

  /** The port the hub listens on. */
  get port(): number {
    return this.listenPort;
  }

  /** CA certificate file the module must trust. */
  get caFile(): string {
    return this.certificates.caFile;
  }

  /** True while the module has a connection. */
  get moduleConnected(): boolean {
    return this.moduleClient !== undefined;
  }

  /** Connection string in the IoT Edge simulator's convention. `gatewayHost` must be one of the certificate's names. */
  connectionString(gatewayHost = 'localhost'): string {
    return `HostName=${this.iotHubHostName};GatewayHostName=${gatewayHost}:${this.port};DeviceId=${this.deviceId};` +
      `ModuleId=${this.moduleId};SharedAccessKey=${this.sharedAccessKey}`;
  }

  /**
   * Environment for a module process: EdgeHubConnectionString + EdgeModuleCACertificateFile. Pass `caFile`
   * when the process sees the CA at another path (e.g. mounted into a container).
   */
  moduleEnv(options: { gatewayHost?: string; caFile?: string } = {}): Record<string, string> {
    return {
      EdgeHubConnectionString: this.connectionString(options.gatewayHost),
      EdgeModuleCACertificateFile: options.caFile ?? this.caFile,
    };
  }

  /** Publishes a message to the module's input (QoS 1); resolves once the broker has queued it for the module. */
  sendInput(input: string, body: Buffer | string, props: MessageProperties = {}): Promise<void> {
    // edgeHub always puts the sender's identity in the properties, so the segment after the input name is never empty.
    const segment = encodeTopicProperties(props, { '$.cdid': this.deviceId, '$.cmid': 'test-sender' });
    const topic = `devices/${this.deviceId}/modules/${this.moduleId}/inputs/${input}/${segment}`;
    return new Promise((resolve, reject) => {
      this.broker.publish(
        { cmd: 'publish', topic, payload: typeof body === 'string' ? Buffer.from(body) : body, qos: 1, retain: false, dup: false },
        (error) => (error ? reject(error) : resolve()),
      );
    });
  }

  /** Publishes an image (or a JSON scoring request) to the module's `images` input. */
  sendImage(body: Buffer | string, props: MessageProperties = {}): Promise<void> {
    return this.sendInput('images', body, props);
  }

  /** Output messages accepted so far on one output (e.g. "predictions", "errors"). */
  outputsOn(output: string): OutputMessage[] {
    return this.outputs.filter((m) => m.output === output);
  }

  /** Resolves once `check()` returns a value other than undefined/false, re-evaluated on every hub event. */
  waitFor<T>(check: () => T | undefined | false, timeoutMs = 20_000, what = 'condition'): Promise<T> {
    return new Promise((resolve, reject) => {
      const evaluate = (): boolean => {
        const value = check();
        if (value === undefined || value === false) return false;
        cleanup();
        resolve(value);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`edge-hub: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const onChange = (): void => void evaluate();
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('change', onChange);
      };
      this.on('change', onChange);
      evaluate();
    });
  }

  /** Waits until `count` messages have arrived on `output`; returns them. */
  waitForOutputs(output: string, count: number, timeoutMs = 20_000): Promise<OutputMessage[]> {
    return this.waitFor(() => {
      const found = this.outputsOn(output);
      return found.length >= count ? found : undefined;
    }, timeoutMs, `${count} message(s) on output "${output}" (have ${this.outputsOn(output).length})`);
  }

  /** Waits until the module is connected and subscribed to its inputs, direct methods and desired properties. */
  waitForModule(timeoutMs = 20_000): Promise<void> {
    const needed = [
      `devices/${this.deviceId}/modules/${this.moduleId}/inputs/#`,
      '$iothub/methods/POST/#',
      '$iothub/twin/PATCH/properties/desired/#',
    ];
    const ready = (): true | undefined => (this.moduleConnected && needed.every((t) => this.subscriptions.has(t)) ? true : undefined);
    return this.waitFor(ready, timeoutMs, 'the module to connect and subscribe').then(() => undefined);
  }

  /** Waits until the reported properties satisfy `check`. */
  waitForReported(check: (reported: Json) => boolean, timeoutMs = 20_000, what = 'reported properties'): Promise<Json> {
    return this.waitFor(() => (check(this.twin.reported) ? this.twin.reported : undefined), timeoutMs, what);
  }

  /** Applies a desired-properties patch (as the cloud would) and sends it to the module; returns the new $version. */
  patchDesired(patch: Json): number {
    mergePatch(this.twin.desired, patch);
    const version = (this.twin.desired.$version as number) + 1;
    this.twin.desired.$version = version;
    this.publishToModule(`$iothub/twin/PATCH/properties/desired/?$version=${version}`, { ...patch, $version: version });
    return version;
  }

  /** Invokes a direct method; rejects after `timeoutMs` without an answer. */
  invokeMethod(name: string, payload: unknown, timeoutMs = 20_000): Promise<MethodResult> {
    const rid = String(++this.methodCounter);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingMethods.delete(rid);
        reject(new Error(`edge-hub: method ${name} got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pendingMethods.set(rid, (result) => {
        clearTimeout(timer);
        resolve(result);
      });
      this.publishToModule(`$iothub/methods/POST/${name}/?$rid=${rid}`, payload);
    });
  }

  /** Stops acknowledging (PUBACK) the module's output messages until releaseOutputAcks(). */
  holdOutputAcks(): void {
    this.heldAcks ??= [];
  }

  /** Acknowledges the held output messages and stops holding. */
  releaseOutputAcks(): void {
    const held = this.heldAcks ?? [];
    this.heldAcks = undefined;
    for (const release of held) release();
  }

  /** Number of output messages whose acknowledgement is being held. */
  get heldOutputCount(): number {
    return this.heldAcks?.length ?? 0;
  }

  /** Cuts every open connection (the broker keeps the module's session and queues its inputs). */
  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  /** Simulates an outage: stops listening and cuts every connection. resume() listens again on the same port. */
  async pause(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.dropConnections();
    await closed;
  }

  async resume(): Promise<void> {
    await this.listen();
  }

  /** Stops everything and deletes the certificates. */
  async close(): Promise<void> {
    this.releaseOutputAcks();
    for (const resolve of this.pendingMethods.values()) resolve({ status: 0, payload: 'hub closed' });
    this.pendingMethods.clear();
    const serverClosed = this.server.listening ? new Promise<void>((resolve) => this.server.close(() => resolve())) : Promise.resolve();
    this.dropConnections();
    await serverClosed;
    await new Promise<void>((resolve) => this.broker.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.listenPort, this.listenHost, () => {
        this.server.off('error', reject);
        const address = this.server.address();
        if (address && typeof address === 'object') this.listenPort = address.port;
        resolve();
      });
    });
  }

  private publishToModule(topic: string, payload: unknown): void {
    const body = Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload ?? null));
    this.broker.publish({ cmd: 'publish', topic, payload: body, qos: 0, retain: false, dup: false }, () => undefined);
  }

  private authenticate(client: Client, username: string | undefined, password: Buffer | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void): void {
    const refuse = (why: string): void => {
      this.authFailures++;
      this.emit('authFailure', why);
      const error = new Error(`edge-hub: ${why}`) as AuthenticateError;
      (error as { returnCode: number }).returnCode = 5;
      done(error, false);
    };
    if (client.id !== `${this.deviceId}/${this.moduleId}`) return refuse(`unexpected client id ${client.id}`);
    if (!username?.startsWith(`${this.iotHubHostName}/${this.deviceId}/${this.moduleId}/`)) return refuse(`unexpected user name ${username}`);
    const token = password?.toString() ?? '';
    const problem = this.checkSasToken(token);
    if (problem) return refuse(problem);
    this.moduleClient = client;
    this.subscriptions.clear();
    this.connections++;
    done(null, true);
    setImmediate(() => this.emit('change'));
  }

  /** Returns why the token is not acceptable, or undefined when it is. */
  private checkSasToken(token: string): string | undefined {
    const prefix = 'SharedAccessSignature ';
    if (!token.startsWith(prefix)) return 'password is not a SharedAccessSignature';
    const fields = new Map<string, string>();
    for (const part of token.slice(prefix.length).split('&')) {
      const eq = part.indexOf('=');
      if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
    }
    const sr = fields.get('sr');
    const sig = fields.get('sig');
    const se = fields.get('se');
    if (!sr || !sig || !se) return 'SAS token lacks sr, sig or se';
    const expected = `${this.iotHubHostName}/devices/${this.deviceId}/modules/${this.moduleId}`;
    if (decodeURIComponent(sr).toLowerCase() !== expected.toLowerCase()) return `SAS token is for ${decodeURIComponent(sr)}`;
    if (Number(se) * 1000 < Date.now()) return 'SAS token expired';
    const signature = createHmac('sha256', Buffer.from(this.sharedAccessKey, 'base64')).update(`${sr}\n${se}`).digest('base64');
    if (decodeURIComponent(sig) !== signature) return 'SAS token signature does not match the module key';
    return undefined;
  }

  private onModulePublish(topic: string, payload: Buffer): void {
    const events = `devices/${this.deviceId}/modules/${this.moduleId}/messages/events/`;
    if (topic.startsWith(events)) {
      const props = parseTopicProperties(topic.slice(events.length).replace(/\/$/, ''));
      const message: OutputMessage = { output: props.get('$.on') ?? '', body: payload, topic, json: undefined, receivedAt: Date.now(), properties: {} };
      for (const [key, value] of props) {
        const field = SYSTEM_PROPERTIES[key];
        if (field) (message as unknown as Record<string, string>)[field] = value;
        else if (!key.startsWith('$.')) message.properties![key] = value;
      }
      try {
        message.json = JSON.parse(payload.toString('utf8'));
      } catch {
        message.json = undefined;
      }
      this.outputs.push(message);
      this.emit('output', message);
      this.emit('change');
      return;
    }
    if (topic.startsWith('$iothub/twin/GET/')) {
      const rid = parseQuery(topic).get('$rid') ?? '';
      this.publishToModule(`$iothub/twin/res/200/?$rid=${rid}`, this.twin);
      return;
    }
    if (topic.startsWith('$iothub/twin/PATCH/properties/reported/')) {
      const rid = parseQuery(topic).get('$rid') ?? '';
      let patch: Json;
      try {
        patch = JSON.parse(payload.toString('utf8')) as Json;
      } catch {
        this.publishToModule(`$iothub/twin/res/400/?$rid=${rid}`, { errorCode: 400, message: 'reported patch is not JSON' });
        return;
      }
      mergePatch(this.twin.reported, patch);
      const version = (this.twin.reported.$version as number) + 1;
      this.twin.reported.$version = version;
      this.publishToModule(`$iothub/twin/res/204/?$rid=${rid}&$version=${version}`, '');
      this.emit('reported', patch);
      this.emit('change');
      return;
    }
    const method = /^\$iothub\/methods\/res\/(\d+)\/?\?(.*)$/.exec(topic);
    if (method) {
      const rid = parseTopicProperties(method[2] ?? '').get('$rid') ?? '';
      const pending = this.pendingMethods.get(rid);
      if (pending) {
        this.pendingMethods.delete(rid);
        let body: unknown = payload.toString('utf8');
        try {
          body = JSON.parse(body as string);
        } catch {
          // not JSON: keep the text
        }
        pending({ status: Number(method[1]), payload: body });
      }
    }
  }
}
