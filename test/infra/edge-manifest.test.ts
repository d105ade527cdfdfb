// The edge deployment manifest, built by the pure builder: valid against the IoT Edge schemas (each
// system module against its own schemaVersion, the whole against deployment-2.0), acceptable to the
// runtime's own rules, and identified by a content hash so a changed manifest is a new configuration.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EDGE_JOURNAL_DIR,
  buildEdgeManifest,
  canonicalJson,
  checkEdgeRuntimeRules,
  edgeDeploymentId,
  moduleCreateOptions,
  type EdgeDeploymentManifest,
  type EdgeManifestArgs,
} from '../../infra/edge-manifest';
import { validateAgainst, validateSystemModules } from './edge-schemas';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const args = (over: Partial<EdgeManifestArgs> = {}): EdgeManifestArgs => ({
  registry: { address: 'crmdeploydev.azurecr.io', username: 'edge-pull-token', password: 'p@ss' },
  moduleImage: `crmdeploydev.azurecr.io/edge-module@${DIGEST}`,
  runtimeVersion: '1.5',
  storeAndForwardTtlSecs: 7200,
  twin: { topK: 3, confidenceThreshold: 0.5 },
  ...over,
});
const clone = (m: EdgeDeploymentManifest): EdgeDeploymentManifest => JSON.parse(JSON.stringify(m));
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const desired = (m: EdgeDeploymentManifest, module: string): any => m.modulesContent[module]!['properties.desired'];

describe('buildEdgeManifest', () => {
  test('carries edgeAgent (runtime, pull credentials, module), edgeHub (routes, store-and-forward) and the module twin', () => {
    const m = buildEdgeManifest(args());
    const agent = desired(m, '$edgeAgent');
    assert.equal(agent.schemaVersion, '1.1');
    assert.deepEqual(agent.runtime.settings.registryCredentials, {
      modeldeploy: { address: 'crmdeploydev.azurecr.io', username: 'edge-pull-token', password: 'p@ss' },
    });
    assert.equal(agent.systemModules.edgeAgent.settings.image, 'mcr.microsoft.com/azureiotedge-agent:1.5');
    assert.equal(agent.systemModules.edgeHub.settings.image, 'mcr.microsoft.com/azureiotedge-hub:1.5');
    const classifier = agent.modules.classifier;
    assert.equal(classifier.settings.image, `crmdeploydev.azurecr.io/edge-module@${DIGEST}`);
    assert.equal(classifier.restartPolicy, 'always');
    assert.equal(classifier.status, 'running');
    assert.deepEqual(classifier.env, { JOURNAL_DIR: { value: EDGE_JOURNAL_DIR }, PORT: { value: '5001' } });
    assert.deepEqual(JSON.parse(classifier.settings.createOptions), {
      ExposedPorts: { '5001/tcp': {} },
      HostConfig: { PortBindings: { '5001/tcp': [{ HostPort: '5001' }] }, Binds: ['edge-module-journal:/var/lib/edge-module/journal'] },
    });

    const hub = desired(m, '$edgeHub');
    assert.equal(hub.schemaVersion, '1.2');
    assert.equal(hub.routes.classifierPredictionsToUpstream.route, 'FROM /messages/modules/classifier/outputs/predictions INTO $upstream');
    assert.equal(hub.routes.classifierErrorsToUpstream.route, 'FROM /messages/modules/classifier/outputs/errors INTO $upstream');
    assert.deepEqual(hub.storeAndForwardConfiguration, { timeToLiveSecs: 7200 });
    assert.deepEqual(desired(m, 'classifier'), { topK: 3, confidenceThreshold: 0.5 });
  });

  test('is easy to extend: more twin properties, env and routes pass through', () => {
    const m = buildEdgeManifest(
      args({
        twin: { topK: 1, confidenceThreshold: 0.9, batchSize: 8 },
        env: { LOG_LEVEL: 'debug' },
        extraRoutes: { cameraToClassifier: 'FROM /messages/modules/camera/outputs/frames INTO BrokeredEndpoint("/modules/classifier/inputs/images")' },
      }),
    );
    assert.equal(desired(m, 'classifier').batchSize, 8);
    assert.deepEqual(desired(m, '$edgeAgent').modules.classifier.env.LOG_LEVEL, { value: 'debug' });
    assert.ok(desired(m, '$edgeHub').routes.cameraToClassifier);
  });

  test('refuses an image referenced by tag or from another registry', () => {
    assert.throws(() => buildEdgeManifest(args({ moduleImage: 'crmdeploydev.azurecr.io/edge-module:1.0' })), /must be referenced by digest/);
    assert.throws(() => buildEdgeManifest(args({ moduleImage: `docker.io/edge-module@${DIGEST}` })), /not in the registry "crmdeploydev.azurecr.io"/);
  });

  test('createOptions fits one twin value (512 characters)', () => {
    assert.ok(moduleCreateOptions().length <= 512);
  });
});

describe('IoT Edge JSON schemas', () => {
  test('$edgeAgent validates against edgeagent-1.1 and $edgeHub against edgehub-1.2 (their own schemaVersions)', () => {
    assert.deepEqual(validateSystemModules(buildEdgeManifest(args())), []);
  });

  test('the whole manifest validates against deployment-2.0', () => {
    assert.deepEqual(validateAgainst('azure-iot-edge-deployment-2.0', buildEdgeManifest(args())), []);
  });

  test('the schemas catch what they cover: a bad restart policy, a missing image, an unknown module field', () => {
    const m = clone(buildEdgeManifest(args()));
    desired(m, '$edgeAgent').modules.classifier.restartPolicy = 'sometimes';
    delete desired(m, '$edgeAgent').systemModules.edgeHub.settings.image;
    desired(m, '$edgeAgent').modules.classifier.digest = DIGEST;
    const errors = validateSystemModules(m).join('\n');
    assert.match(errors, /restartPolicy/);
    assert.match(errors, /image/);
    assert.match(errors, /additionalProperty.*digest/);
  });

  test('an edgeHub 1.1 manifest does not validate against the 1.2 schema version it claims otherwise', () => {
    const m = clone(buildEdgeManifest(args()));
    desired(m, '$edgeHub').schemaVersion = '1.1';
    assert.deepEqual(validateAgainst('azure-iot-edgehub-deployment-1.1', { $edgeHub: m.modulesContent.$edgeHub }), []);
    assert.notDeepEqual(validateAgainst('azure-iot-edgehub-deployment-1.2', { $edgeHub: m.modulesContent.$edgeHub }), []);
  });
});

describe('checkEdgeRuntimeRules (what the runtime enforces and the schemas do not)', () => {
  test('accepts the built manifest', () => {
    assert.deepEqual(checkEdgeRuntimeRules(buildEdgeManifest(args())), []);
  });

  test('edgeAgent rejects schemaVersion above 1.1 or another major version', () => {
    for (const v of ['1.2', '2.0', 'x']) {
      const m = clone(buildEdgeManifest(args()));
      desired(m, '$edgeAgent').schemaVersion = v;
      assert.match(checkEdgeRuntimeRules(m).join(), /\$edgeAgent schemaVersion/, v);
    }
  });

  test('edgeHub accepts 1.0-1.3 and needs storeAndForwardConfiguration from 1.1', () => {
    const m = clone(buildEdgeManifest(args()));
    delete desired(m, '$edgeHub').storeAndForwardConfiguration;
    assert.match(checkEdgeRuntimeRules(m).join(), /requires storeAndForwardConfiguration/);
    desired(m, '$edgeHub').schemaVersion = '1.0';
    assert.deepEqual(checkEdgeRuntimeRules(m), []);
    desired(m, '$edgeHub').schemaVersion = '1.4';
    assert.match(checkEdgeRuntimeRules(m).join(), /not accepted by edgeHub/);
  });

  test('flags a digest setting, bad createOptions, routes to missing modules and images without credentials', () => {
    const m = clone(buildEdgeManifest(args()));
    const classifier = desired(m, '$edgeAgent').modules.classifier;
    classifier.digest = DIGEST;
    classifier.settings.createOptions = '{not json';
    desired(m, '$edgeHub').routes.ghost = 'FROM /messages/modules/ghost/outputs/x INTO BrokeredEndpoint("/modules/phantom/inputs/y")';
    desired(m, '$edgeAgent').runtime.settings.registryCredentials = {};
    const problems = checkEdgeRuntimeRules(m).join('\n');
    assert.match(problems, /"digest" is rejected/);
    assert.match(problems, /createOptions is not valid JSON/);
    assert.match(problems, /reads from module ghost/);
    assert.match(problems, /sends to module phantom/);
    assert.match(problems, /has no registryCredentials entry/);
  });

  test('flags createOptions over 512 characters', () => {
    const m = clone(buildEdgeManifest(args()));
    desired(m, '$edgeAgent').modules.classifier.settings.createOptions = JSON.stringify({ Env: ['X='.padEnd(600, 'x')] });
    assert.match(checkEdgeRuntimeRules(m).join(), /over 512 it must be split/);
  });
});

describe('edgeDeploymentId', () => {
  test('hashes the content: any change (image digest, credentials, twin) gives a new id', () => {
    const base = edgeDeploymentId('mdeploy', 'dev', buildEdgeManifest(args()));
    assert.match(base, /^mdeploy-dev-classifier-[0-9a-f]{12}$/);
    const variants = [
      args({ moduleImage: `crmdeploydev.azurecr.io/edge-module@sha256:${'cd'.repeat(32)}` }),
      args({ registry: { address: 'crmdeploydev.azurecr.io', username: 'edge-pull-token', password: 'rotated' } }),
      args({ twin: { topK: 4, confidenceThreshold: 0.5 } }),
      args({ storeAndForwardTtlSecs: 60 }),
    ];
    const ids = new Set(variants.map((a) => edgeDeploymentId('mdeploy', 'dev', buildEdgeManifest(a))));
    assert.equal(ids.size, variants.length);
    assert.ok(!ids.has(base));
  });

  test('is stable: the same content in another key order has the same id', () => {
    const m = buildEdgeManifest(args());
    const reverseKeys = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(reverseKeys)
        : v && typeof v === 'object'
          ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)]))
          : v;
    const reordered = reverseKeys(m) as EdgeDeploymentManifest;
    assert.notEqual(JSON.stringify(reordered), JSON.stringify(m));
    assert.equal(edgeDeploymentId('mdeploy', 'dev', reordered), edgeDeploymentId('mdeploy', 'dev', m));
    assert.equal(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }), '{"a":[{"c":3,"d":2}],"b":1}');
  });
});
