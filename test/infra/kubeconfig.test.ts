// The kubeconfig of an Entra-integrated cluster (infra/kubeconfig.ts), from what AKS's
// listClusterUserCredential returns with format "exec" (its user runs kubelogin in device-code mode).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { AKS_SERVER_ID, kubeloginKubeconfig } from '../../infra/kubeconfig';
import { AKS_EXEC_KUBECONFIG } from './harness';

describe('kubeloginKubeconfig', () => {
  test('keeps clusters and contexts; the user gets tokens from the Azure CLI session, never a device code', () => {
    const out = parse(kubeloginKubeconfig(AKS_EXEC_KUBECONFIG));
    const original = parse(AKS_EXEC_KUBECONFIG);
    assert.deepEqual(out.clusters, original.clusters);
    assert.deepEqual(out.contexts, original.contexts);
    assert.equal(out.users[0].user.exec.command, 'kubelogin');
    assert.deepEqual(out.users[0].user.exec.args, ['get-token', '--login', 'azurecli', '--server-id', AKS_SERVER_ID]);
    assert.equal(out.users[0].user.exec.interactiveMode, 'Never');
  });

  test('workload identity mode for CI runners that have one', () => {
    assert.match(kubeloginKubeconfig(AKS_EXEC_KUBECONFIG, 'workloadidentity'), /- workloadidentity/);
  });

  test('a kubeconfig with a static credential (local accounts on) or without kubelogin is refused', () => {
    const withToken = AKS_EXEC_KUBECONFIG.replace(/ {4}exec:[\s\S]*$/, '    token: abc123\n');
    assert.throws(() => kubeloginKubeconfig(withToken), /user clusterUser_rg_aks carries a static credential \(token\): local accounts must be off/);
    const other = AKS_EXEC_KUBECONFIG.replace('command: kubelogin', 'command: aws');
    assert.throws(() => kubeloginKubeconfig(other), /does not use kubelogin \(got aws\)/);
  });
});
