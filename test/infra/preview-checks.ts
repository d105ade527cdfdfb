// `pulumi preview` of an existing stack with the pull-request identity, which has the Reader role only.
// The real program runs under mocks in preview mode (isDryRun true); every invoke it makes is recorded
// and mapped to the Azure operation it performs. Reader's permissions are `actions: ["*/read"]`, no
// data actions (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/general#reader),
// so any invoke whose operation is not a read would fail the PR preview with AuthorizationFailed.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as pulumi from '@pulumi/pulumi';
import { runStack, type StackRun } from './harness';

/**
 * The Azure operation behind every invoke the program may make (from the Azure REST API reference of
 * each call), or null when the invoke never reaches Azure (it reads the provider's own credentials).
 * An invoke missing here fails the test: add it with its operation.
 */
export const INVOKE_OPERATIONS: Record<string, string | null> = {
  'azure-native:authorization:getClientConfig': null,
  'azure-native:authorization:getClientToken': null,
  // POST .../managedClusters/{name}/listClusterUserCredential
  'azure-native:containerservice:listManagedClusterUserCredentials': 'Microsoft.ContainerService/managedClusters/listClusterUserCredential/action',
  // POST .../IotHubs/{name}/IotHubKeys/{keyName}/listkeys
  'azure-native:iothub:listIotHubResourceKeysForKeyName': 'Microsoft.Devices/IotHubs/IotHubKeys/listkeys/Action',
};

/** Whether the built-in Reader role (`*\/read`) allows an operation; null = no Azure call at all. */
export function readerAllows(operation: string | null): boolean {
  return operation === null || /^[A-Za-z.]+\/.+\/read$/i.test(operation);
}

/** `overrides`: config values on top of the stack file (namespaced keys), e.g. a tlsMode. */
export function describePreview(stack: string, overrides: Record<string, unknown> = {}): void {
  const variant = 'model-deploy:tlsMode' in overrides ? ` with tlsMode ${String(overrides['model-deploy:tlsMode'])}` : '';
  describe(`stack ${stack}${variant}: pulumi preview with the Reader role (index.ts under mocks, isDryRun true)`, () => {
    let run: StackRun;
    before(async () => {
      run = await runStack(stack, overrides, true);
    });

    test('the program registers the whole stack in preview', () => {
      assert.ok(run.resources.length > 30, `${run.resources.length} resources`);
      assert.ok(run.resources.some((r) => r.type === 'kubernetes:apps/v1:Deployment'));
    });

    test('every invoke it makes is one Reader may call', () => {
      for (const call of run.calls) {
        assert.ok(call.token in INVOKE_OPERATIONS, `${call.token} is a new invoke: list the Azure operation it performs in INVOKE_OPERATIONS`);
        const operation = INVOKE_OPERATIONS[call.token]!;
        assert.ok(readerAllows(operation), `${call.token} needs ${operation}, which the Reader role of the pull-request identity does not grant`);
      }
    });

    test('the check above catches the POST actions that used to run in every preview', () => {
      assert.equal(readerAllows(INVOKE_OPERATIONS['azure-native:containerservice:listManagedClusterUserCredentials']!), false);
      assert.equal(readerAllows(INVOKE_OPERATIONS['azure-native:iothub:listIotHubResourceKeysForKeyName']!), false);
      assert.equal(readerAllows('Microsoft.ContainerService/managedClusters/read'), true);
    });

    test('the Kubernetes provider gets an unknown kubeconfig, so its preview never contacts the cluster', () => {
      const providers = run.resources.filter((r) => r.type === 'pulumi:providers:kubernetes');
      assert.equal(providers.length, 1);
      const kubeconfig = providers[0]!.inputs.kubeconfig;
      assert.ok(pulumi.isUnknown(kubeconfig), `kubeconfig is unknown in preview (got ${JSON.stringify(kubeconfig)?.slice(0, 40)})`);
    });
  });
}
