// Config and names, without Pulumi's runtime: Pulumi.yaml declares exactly the keys
// infra/config.ts reads (type, description, default), the stack files hold no secrets and differ where
// environments differ, and every wrong value fails with its key, the value and what is expected.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_KEYS, ConfigError, modelEnv, parseConfig, parseCpu, parseMemory, type ConfigKey } from '../../infra/config';
import { azureName } from '../../infra/naming';
import { PROJECT, REPO_ROOT, readProjectFile, readStackFile, stackConfig } from './harness';

const STACKS = ['dev', 'prod'] as const;

/** parseConfig over a PULUMI_CONFIG-like map (namespaced keys, string values). */
function parse(values: Record<string, string>, stack = 'test') {
  return parseConfig((key) => values[`${PROJECT}:${key}`], PROJECT, stack);
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a ConfigError');
}

describe('Pulumi.yaml', () => {
  const project = readProjectFile();

  test('is a TypeScript nodejs project whose tsconfig exists', () => {
    assert.equal(project.name, PROJECT);
    const runtime = project.runtime as { name: string; options: { typescript: boolean; tsconfig: string } };
    assert.equal(runtime.name, 'nodejs');
    assert.equal(runtime.options.typescript, true);
    assert.ok(existsSync(join(REPO_ROOT, runtime.options.tsconfig)), runtime.options.tsconfig);
  });

  test('declares every key the program reads, with the same type, a description and the same default', () => {
    const declared = project.config ?? {};
    assert.deepEqual(Object.keys(declared).sort(), Object.keys(CONFIG_KEYS).sort());
    for (const [key, spec] of Object.entries(CONFIG_KEYS)) {
      const d = declared[key]!;
      assert.equal(d.type, spec.type, `${key}: type`);
      assert.equal(d.description, spec.description, `${key}: description`);
      assert.ok((d.description ?? '').length > 10, `${key}: description`);
      assert.deepEqual(d.default, spec.default, `${key}: default`);
      if (spec.type === 'array') assert.deepEqual(d.items, { type: 'string' }, `${key}: items`);
    }
  });

  test('the defaults alone are a valid configuration', () => {
    const cfg = parse({});
    assert.equal(cfg.location, 'westeurope');
    assert.equal(cfg.aks.vmSize, 'Standard_D2s_v5');
  });
});

describe('stack files', () => {
  for (const stack of STACKS) {
    test(`Pulumi.${stack}.yaml uses only declared keys, holds no secret and parses`, () => {
      const file = readStackFile(stack);
      for (const [key, value] of Object.entries(file)) {
        const [ns, name] = key.split(':');
        assert.equal(ns, PROJECT, `${key}: only project keys (providers get their values from the program)`);
        assert.ok(name! in CONFIG_KEYS, `${key} is not declared in Pulumi.yaml`);
        assert.ok(!(value && typeof value === 'object' && 'secure' in value), `${key} is a secret in a stack file`);
      }
      const cfg = parse(stackConfig(stack), stack);
      assert.equal(cfg.environment, stack);
    });
  }

  test('dev and prod differ where environments do', () => {
    const dev = parse(stackConfig('dev'), 'dev');
    const prod = parse(stackConfig('prod'), 'prod');
    assert.notEqual(dev.aks.vmSize, prod.aks.vmSize);
    assert.ok(prod.aks.minCount > dev.aks.minCount && prod.aks.maxCount > dev.aks.maxCount);
    assert.deepEqual(dev.aks.zones, []);
    assert.deepEqual(prod.aks.zones, ['1', '2', '3']);
    assert.equal(dev.aks.skuTier, 'Free');
    assert.equal(prod.aks.skuTier, 'Standard');
    assert.ok(prod.scoring.minReplicas >= 3 && prod.scoring.maxReplicas > dev.scoring.maxReplicas);
    assert.ok(prod.iotHub.capacity > dev.iotHub.capacity);
    assert.ok(prod.iotHub.retentionDays > dev.iotHub.retentionDays);
    assert.ok(prod.logRetentionDays > dev.logRetentionDays);
    assert.notEqual(dev.storageSku, prod.storageSku);
    assert.notDeepEqual(dev.edge.deviceIds, prod.edge.deviceIds);
    assert.notEqual(dev.edge.targetCondition, prod.edge.targetCondition);
  });
});

describe('parseConfig', () => {
  const bad: Array<[ConfigKey, string, RegExp]> = [
    ['location', 'West Europe', /expected an Azure region name/],
    ['namePrefix', 'My-Prefix', /expected 2-8 lowercase letters or digits/],
    ['environment', 'production', /expected 2-5 lowercase letters/],
    ['aksNodeMinCount', '0', /expected an integer from 1 to 100/],
    ['aksNodeMinCount', 'three', /expected an integer from 1 to 100/],
    ['aksNodeMaxCount', '2.5', /expected an integer from 1 to 100/],
    ['aksAvailabilityZones', '["1","4"]', /expected a list of zones "1", "2" or "3"/],
    ['aksAvailabilityZones', '["1","1"]', /expected a list without duplicates/],
    ['aksAvailabilityZones', '1,2,3', /expected a list of zones/],
    ['aksSkuTier', 'Gold', /expected one of Free, Standard, Premium/],
    ['aksKubernetesVersion', '1.29', /expected empty or 1.30 or later/],
    ['promoteScoringImageDigest', 'latest', /expected empty or sha256:<64 hex digits>/],
    ['promoteFromRegistryId', 'crmdeploydev', /expected empty or a registry resource id/],
    ['aksKubernetesVersion', 'latest', /expected empty or a major.minor version like 1.33/],
    // upgradeChannel "patch" moves the patch; a pinned patch would be reverted (or refused) on every up.
    ['aksKubernetesVersion', '1.33.2', /"1.33.2"; expected empty or a major.minor version like 1.33 \(no patch/],
    ['aksNodeVmSize', 'D2s_v5', /expected an Azure VM size/],
    ['acrSku', 'basic', /expected one of Basic, Standard, Premium/],
    ['logRetentionDays', '7', /expected an integer from 30 to 730/],
    ['scoringCpuRequest', '500 m', /expected a CPU quantity/],
    ['scoringMemoryLimit', '1GB', /expected a memory quantity/],
    ['scoringLogLevel', 'verbose', /expected one of fatal, error, warn, info, debug, trace/],
    ['scoringModelThreads', '65', /expected an integer from 0 to 64/],
    ['scoringModelThreads', 'auto', /expected an integer from 0 to 64/],
    ['scoringIntraOpThreads', '-1', /expected an integer from 0 to 64/],
    ['scoringIntraOpThreads', '2.5', /expected an integer from 0 to 64/],
    ['scoringBatchMaxWaitMs', '1001', /expected an integer from 0 to 1000/],
    ['scoringBatchMaxWaitMs', '0.5', /expected an integer from 0 to 1000/],
    ['iotHubSku', 'B1', /expected one of S1, S2, S3, F1/],
    ['iotHubRetentionDays', '30', /expected an integer from 1 to 7/],
    ['edgeDeviceIds', '["ok-device","bad device"]', /expected a list of IoT Hub device ids/],
    ['edgeTopK', '11', /expected an integer from 1 to 10/],
    ['edgeConfidenceThreshold', '1.5', /expected a number from 0 to 1/],
    ['edgeConfidenceThreshold', 'high', /expected a number from 0 to 1/],
    ['edgeStoreAndForwardTtlSecs', '-1', /expected an integer from 60 to 2592000/],
    ['imagePlatform', 'windows/amd64', /expected linux\/amd64 or linux\/arm64/],
    ['edgeImagePlatform', 'linux/arm/v7', /expected linux\/amd64 or linux\/arm64/],
    ['modelDir', '../elsewhere', /expected model or a folder under model\/, e.g. model\/my-vit \(the image build sends model files from model\/ only/],
    ['modelDir', 'exports/vit', /expected model or a folder under model\//],
    ['modelDir', 'model/../infra', /expected model or a folder under model\//],
    ['modelDir', 'model/', /expected model or a folder under model\//],
    ['modelName', 'my model', /expected empty or a model name of letters, digits/],
    ['modelName', '-x', /expected empty or a model name/],
    ['exactPreprocessing', 'yes', /expected true or false/],
    ['exifOrientation', 'no', /expected true or false/],
    ['preprocessThreads', '257', /expected empty \(the app's default\) or an integer from 0 to 256/],
    ['preprocessThreads', '-1', /expected empty \(the app's default\) or an integer from 0 to 256/],
    ['preprocessThreads', 'auto', /expected empty \(the app's default\) or an integer from 0 to 256/],
    ['reducingGap', '0.5', /expected empty \(the app's default, 4\) or a number from 1 to 64/],
    ['reducingGap', '65', /expected empty \(the app's default, 4\) or a number from 1 to 64/],
    ['reducingGap', '2x', /expected empty \(the app's default, 4\) or a number from 1 to 64/],
    ['tlsMode', 'http', /expected one of none, keyvault, letsencrypt, letsencrypt-staging/],
    ['hstsMaxAgeSeconds', '-1', /expected an integer from 0 to 63072000/],
    ['aksIstioRevision', '1.30', /expected an AKS Istio add-on revision such as asm-1-30/],
  ];
  for (const [key, value, expected] of bad) {
    test(`${key} = ${JSON.stringify(value)} fails naming the key, the value and what is expected`, () => {
      const e = configError(() => parse({ [`${PROJECT}:${key}`]: value }));
      assert.equal(e.problems.length, 1, e.message);
      assert.ok(e.message.includes(`${PROJECT}:${key} is ${JSON.stringify(value)}; expected`), e.message);
      assert.match(e.message, expected);
    });
  }

  test('reports every problem at once, including rules across keys', () => {
    const e = configError(() =>
      parse({
        [`${PROJECT}:aksNodeMinCount`]: '5',
        [`${PROJECT}:aksNodeMaxCount`]: '3',
        [`${PROJECT}:scoringMinReplicas`]: '4',
        [`${PROJECT}:scoringMaxReplicas`]: '2',
        [`${PROJECT}:scoringCpuRequest`]: '2',
        [`${PROJECT}:scoringCpuLimit`]: '500m',
        [`${PROJECT}:scoringMemoryRequest`]: '2Gi',
        [`${PROJECT}:scoringMemoryLimit`]: '512Mi',
        [`${PROJECT}:iotHubSku`]: 'F1',
        [`${PROJECT}:iotHubCapacity`]: '2',
      }),
    );
    assert.equal(e.problems.length, 5, e.message);
    assert.match(e.message, /aksNodeMaxCount is "3"; expected an integer >= aksNodeMinCount \(5\)/);
    assert.match(e.message, /scoringMaxReplicas is "2"; expected an integer >= scoringMinReplicas \(4\)/);
    assert.match(e.message, /scoringCpuLimit is "500m"; expected a CPU quantity >= scoringCpuRequest \(2\)/);
    assert.match(e.message, /scoringMemoryLimit is "512Mi"; expected a memory quantity >= scoringMemoryRequest \(2Gi\)/);
    assert.match(e.message, /iotHubCapacity is "2"; expected 1 with iotHubSku F1/);
  });

  test('derives tags, the edge target condition and the device tags from the environment', () => {
    const cfg = parse({ [`${PROJECT}:environment`]: 'qa', [`${PROJECT}:owner`]: 'team-x' }, 'qa-stack');
    assert.deepEqual(cfg.tags, { project: PROJECT, environment: 'qa', stack: 'qa-stack', owner: 'team-x', managedBy: 'pulumi' });
    assert.equal(cfg.edge.targetCondition, "tags.environment='qa' AND tags.modelDeploy=true");
    assert.deepEqual(cfg.edge.deviceTags, { environment: 'qa', modelDeploy: true });
  });

  test('quantities', () => {
    assert.equal(parseCpu('500m'), 500);
    assert.equal(parseCpu('1.5'), 1500);
    assert.equal(parseMemory('512Mi'), 512 * 2 ** 20);
    assert.equal(parseMemory('1Gi'), 2 ** 30);
  });
});

describe('parseConfig: HTTPS', () => {
  const KV = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-certs/providers/Microsoft.KeyVault/vaults/kv-certs';
  const tls = (values: Record<string, string>) => parse(Object.fromEntries(Object.entries(values).map(([k, v]) => [`${PROJECT}:${k}`, v]))).tls;
  const problems = (values: Record<string, string>) => configError(() => tls(values)).problems;

  test('the default publishes nothing (tlsMode none), with a year of HSTS once it does', () => {
    assert.deepEqual(parse({}).tls, { mode: 'none', keyVaultId: '', keyVaultName: '', certificateName: '', acmeEmail: '', customDomain: '', hstsMaxAgeSeconds: 31536000, istioRevision: 'asm-1-30' });
  });

  test('keyvault: the vault id and certificate name are required; the vault name comes from the id', () => {
    assert.deepEqual(problems({ tlsMode: 'keyvault' }), [
      `${PROJECT}:tlsKeyVaultId is ""; expected a Key Vault resource id when tlsMode is keyvault.`,
      `${PROJECT}:tlsKeyVaultCertificateName is ""; expected the name of the certificate in tlsKeyVaultId when tlsMode is keyvault.`,
    ]);
    const t = tls({ tlsMode: 'keyvault', tlsKeyVaultId: KV, tlsKeyVaultCertificateName: 'scoring' });
    assert.equal(t.keyVaultName, 'kv-certs');
    assert.match(problems({ tlsMode: 'keyvault', tlsKeyVaultId: 'https://kv-certs.vault.azure.net/', tlsKeyVaultCertificateName: 'scoring' })[0]!, /tlsKeyVaultId is "https:\/\/kv-certs.vault.azure.net\/"; expected empty or a Key Vault resource id/);
  });

  test("letsencrypt: an ACME e-mail is required; values of another mode are refused, not ignored", () => {
    assert.deepEqual(problems({ tlsMode: 'letsencrypt' }), [`${PROJECT}:tlsAcmeEmail is ""; expected an e-mail address for the ACME account when tlsMode is letsencrypt.`]);
    assert.deepEqual(problems({ tlsMode: 'letsencrypt-staging', tlsAcmeEmail: 'a@b.io', tlsKeyVaultCertificateName: 'x' }), [
      `${PROJECT}:tlsKeyVaultCertificateName is "x"; expected empty unless tlsMode is keyvault (it is letsencrypt-staging).`,
    ]);
    assert.equal(tls({ tlsMode: 'letsencrypt', tlsAcmeEmail: 'a@b.io', customDomain: 'scoring.example.com' }).customDomain, 'scoring.example.com');
  });

  test('customDomain: a plain lowercase host name, and only with a certificate', () => {
    for (const bad of ['https://scoring.example.com', '*.example.com', 'Scoring.Example.com', 'localhost']) {
      assert.match(problems({ tlsMode: 'letsencrypt', tlsAcmeEmail: 'a@b.io', customDomain: bad })[0]!, /expected empty or a lowercase host name/, bad);
    }
    assert.deepEqual(problems({ customDomain: 'scoring.example.com' }), [`${PROJECT}:customDomain is "scoring.example.com"; expected empty when tlsMode is none (there is no public endpoint to name).`]);
  });
});

describe('azureName', () => {
  test('follows each resource type rule; every name carries the stack suffix (two dev stacks in one subscription must not collide)', () => {
    assert.equal(azureName('resourceGroup', 'mdeploy', 'dev', 'k3x9q2'), 'rg-mdeploy-dev-k3x9q2');
    assert.notEqual(azureName('resourceGroup', 'mdeploy', 'dev', 'k3x9q2'), azureName('resourceGroup', 'mdeploy', 'dev', 'p7w2m4'));
    assert.equal(azureName('storageAccount', 'mdeploy', 'prod', 'k3x9q2'), 'stmdeployprodk3x9q2');
    assert.equal(azureName('containerRegistry', 'mdeploy', 'dev', 'k3x9q2'), 'crmdeploydevk3x9q2');
    assert.equal(azureName('iotHub', 'mdeploy', 'dev', 'k3x9q2'), 'iot-mdeploy-dev-k3x9q2');
    assert.equal(azureName('kubernetesCluster', 'mdeploy', 'dev', 'k3x9q2'), 'aks-mdeploy-dev-k3x9q2');
  });

  test('the longest prefix and environment config allows still fit every rule', () => {
    for (const kind of ['resourceGroup', 'storageAccount', 'containerRegistry', 'kubernetesCluster', 'logAnalytics', 'appInsights', 'iotHub'] as const) {
      assert.doesNotThrow(() => azureName(kind, 'abcdefgh', 'abcde', 'k3x9q2'), kind);
    }
  });

  test('fails with a sentence naming the options when a name would break the rule', () => {
    assert.throws(
      () => azureName('storageAccount', 'averylongprefix', 'prod', 'k3x9q2'),
      /storageAccount name "staverylongprefixprodk3x9q2" built from namePrefix "averylongprefix", environment "prod" and suffix "k3x9q2" breaks Azure's rule \(3-24 lowercase letters or digits\); shorten namePrefix or environment/,
    );
  });
});

describe('the model keys: MODEL_NAME, EXACT_PREPROCESSING, EXIF_ORIENTATION, PREPROCESS_THREADS, REDUCING_GAP for both apps', () => {
  test("default: the apps' own defaults, with exact preprocessing said out loud", () => {
    const cfg = parse({});
    assert.deepEqual(cfg.model, { exactPreprocessing: false, exifOrientation: true });
    assert.deepEqual(modelEnv(cfg.model), { EXACT_PREPROCESSING: 'false', EXIF_ORIENTATION: 'true' });
    assert.equal(cfg.modelDir, 'model');
  });

  test('set: each key becomes its variable', () => {
    const cfg = parse({
      [`${PROJECT}:modelDir`]: 'model/fashion-rgb-keras',
      [`${PROJECT}:modelName`]: 'fashion-rgb',
      [`${PROJECT}:exactPreprocessing`]: 'true',
      [`${PROJECT}:preprocessThreads`]: '0',
      [`${PROJECT}:exifOrientation`]: 'false',
      [`${PROJECT}:reducingGap`]: '2.5',
    });
    assert.equal(cfg.modelDir, 'model/fashion-rgb-keras');
    assert.deepEqual(modelEnv(cfg.model), { MODEL_NAME: 'fashion-rgb', EXACT_PREPROCESSING: 'true', EXIF_ORIENTATION: 'false', PREPROCESS_THREADS: '0', REDUCING_GAP: '2.5' });
  });
});
