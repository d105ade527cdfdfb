import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, connectionFromEnv, DEFAULT_JOURNAL_DIR, journalFromEnv, loadEdgeConfig, modelThreadsFromEnv } from '../src/config.js';

const KEY = Buffer.alloc(32, 1).toString('base64');
const CONNECTION = `HostName=hub.azure-devices.net;GatewayHostName=localhost:8883;DeviceId=dev;ModuleId=classifier;SharedAccessKey=${KEY}`;
const RUNTIME = {
  IOTEDGE_WORKLOADURI: 'unix:///var/run/iotedge/workload.sock',
  IOTEDGE_DEVICEID: 'dev',
  IOTEDGE_MODULEID: 'classifier',
  IOTEDGE_IOTHUBHOSTNAME: 'hub.azure-devices.net',
  IOTEDGE_AUTHSCHEME: 'sasToken',
  IOTEDGE_MODULEGENERATIONID: 'g1',
};

describe('edge config: where the module connects', () => {
  it('names every missing IoT Edge variable when there is no connection string', () => {
    assert.throws(() => connectionFromEnv({ IOTEDGE_DEVICEID: 'dev' }), (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /EdgeHubConnectionString.*EdgeModuleCACertificateFile/);
      assert.match(error.message, /missing: IOTEDGE_WORKLOADURI, IOTEDGE_MODULEID, IOTEDGE_IOTHUBHOSTNAME, IOTEDGE_AUTHSCHEME, IOTEDGE_MODULEGENERATIONID\)$/);
      return true;
    });
  });

  it('runs under the IoT Edge runtime with the IOTEDGE_* variables', () => {
    assert.deepEqual(connectionFromEnv(RUNTIME), { kind: 'iotedge-runtime', deviceId: 'dev', moduleId: 'classifier' });
    assert.throws(() => connectionFromEnv({ ...RUNTIME, IOTEDGE_AUTHSCHEME: 'x509' }), /IOTEDGE_AUTHSCHEME must be "sasToken"/);
  });

  it('runs as in the simulator with a module connection string, never echoing it', () => {
    assert.deepEqual(connectionFromEnv({ EdgeHubConnectionString: CONNECTION }), {
      kind: 'connection-string', deviceId: 'dev', moduleId: 'classifier', gateway: 'localhost:8883', caFile: undefined,
    });
    assert.throws(() => connectionFromEnv({ EdgeHubConnectionString: `HostName=h;DeviceId=d;SharedAccessKey=${KEY}` }), (error: Error) => {
      assert.match(error.message, /lacks ModuleId$/);
      assert.ok(!error.message.includes(KEY));
      return true;
    });
    assert.throws(() => connectionFromEnv({ EdgeHubConnectionString: CONNECTION, EdgeModuleCACertificateFile: '/no/such/ca.pem' }), /EdgeModuleCACertificateFile must name a readable PEM file/);
  });
});

describe('edge config: journal', () => {
  it('defaults', () => {
    assert.deepEqual(journalFromEnv({}), { dir: DEFAULT_JOURNAL_DIR, fsync: 'batch', fsyncIntervalMs: 20, segmentBytes: 8 * 1024 * 1024 });
    assert.match(DEFAULT_JOURNAL_DIR, /\.cache\/edge-module\/journal$/);
  });

  it('names the variable and the expected value', () => {
    assert.throws(() => journalFromEnv({ JOURNAL_FSYNC: 'never' }), /JOURNAL_FSYNC must be "batch" or "always" \(got "never"\)/);
    assert.throws(() => journalFromEnv({ JOURNAL_FSYNC_INTERVAL_MS: '0' }), /JOURNAL_FSYNC_INTERVAL_MS must be an integer from 1 to 10000 \(got "0"\)/);
    assert.throws(() => journalFromEnv({ JOURNAL_SEGMENT_BYTES: '1k' }), /JOURNAL_SEGMENT_BYTES must be an integer/);
  });

  it('takes the HTTP side from the scoring service\'s own schema', () => {
    const config = loadEdgeConfig({ EdgeHubConnectionString: CONNECTION, PORT: '5099', SCORING_API_KEYS: 'k1,k2', JOURNAL_DIR: '/data/journal' });
    assert.equal(config.service.port, 5099);
    assert.deepEqual(config.service.auth, { mode: 'keys', keys: ['k1', 'k2'] });
    assert.equal(config.journal.dir, '/data/journal');
    assert.throws(() => loadEdgeConfig({ EdgeHubConnectionString: CONNECTION }), /no API key configured/);
    assert.equal(loadEdgeConfig({ EdgeHubConnectionString: CONNECTION }, { local: true }).service.auth.mode, 'disabled');
  });

  it('lets onnxruntime threads sleep between runs unless INTRA_OP_SPINNING says otherwise (edgeHub shares the cores)', () => {
    const spinning = (env: Record<string, string>): boolean => loadEdgeConfig({ EdgeHubConnectionString: CONNECTION, ...env }, { local: true }).service.inference.intraOpSpinning;
    assert.equal(spinning({}), false);
    assert.equal(spinning({ INTRA_OP_SPINNING: ' ' }), false);
    assert.equal(spinning({ INTRA_OP_SPINNING: 'true' }), true);
    assert.equal(spinning({ INTRA_OP_SPINNING: 'false' }), false);
    assert.throws(() => spinning({ INTRA_OP_SPINNING: 'sometimes' }), /INTRA_OP_SPINNING/);
  });

  it('runs the model on threads of its own: MODEL_THREADS, else auto (the core sizes it from the CPUs and the model)', () => {
    const load = (env: Record<string, string>) => loadEdgeConfig({ EdgeHubConnectionString: CONNECTION, ...env }, { local: true });
    assert.equal(modelThreadsFromEnv({}), 'auto');
    assert.equal(modelThreadsFromEnv({ MODEL_THREADS: ' ' }), 'auto');
    assert.equal(modelThreadsFromEnv({ MODEL_THREADS: '3' }), 3);
    assert.throws(() => modelThreadsFromEnv({ MODEL_THREADS: 'many' }), /MODEL_THREADS must be an integer from 0 to 64 \(got "many"\)/);
    assert.equal(load({}).modelThreads, 'auto');
    // INTRA_OP_THREADS stays unset unless given: the core then divides the CPUs among the model threads.
    const threaded = load({ MODEL_THREADS: '2' });
    assert.equal(threaded.modelThreads, 2);
    assert.equal(threaded.service.inference.intraOpThreads, undefined);
    assert.equal(load({ MODEL_THREADS: '2', INTRA_OP_THREADS: '2' }).service.inference.intraOpThreads, 2);
    const main = load({ MODEL_THREADS: '0' });
    assert.equal(main.modelThreads, 0);
    assert.equal(main.service.inference.intraOpThreads, undefined);
    const worker = load({ INFERENCE_WORKER: 'true' });
    assert.equal(worker.modelThreads, 0);
    assert.equal(worker.service.inference.intraOpThreads, undefined);
  });

  it('lets the heap grow to 4x what a full collection left (HEAP_GROWING_PERCENT 300) unless told otherwise; 0 is V8\'s own heuristics', () => {
    const load = (env: Record<string, string>) => loadEdgeConfig({ EdgeHubConnectionString: CONNECTION, ...env }, { local: true });
    assert.equal(load({}).heapGrowingPercent, 300);
    assert.equal(load({ HEAP_GROWING_PERCENT: ' ' }).heapGrowingPercent, 300);
    assert.equal(load({ HEAP_GROWING_PERCENT: '0' }).heapGrowingPercent, 0);
    assert.equal(load({ HEAP_GROWING_PERCENT: '150' }).heapGrowingPercent, 150);
    for (const bad of ['-1', '1001', '2.5', 'lots']) {
      assert.throws(() => load({ HEAP_GROWING_PERCENT: bad }), (error: Error) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.message, `Invalid configuration: HEAP_GROWING_PERCENT must be an integer from 0 to 1000 (got ${JSON.stringify(bad)})`);
        return true;
      });
    }
  });
});
