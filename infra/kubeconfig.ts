// The kubeconfig of an Entra-integrated cluster: no credential in it, only how to get one. AKS's
// listClusterUserCredential (format "exec") returns a kubeconfig whose user runs kubelogin in device-code
// mode, which cannot work unattended; this rewrites it the way `kubelogin convert-kubeconfig -l <mode>`
// does, so `pulumi up` (and anyone with the stack output) gets tokens from the Azure CLI session or a
// workload identity, authorised by Azure RBAC.
import { parse, stringify } from 'yaml';

/** The Entra application id of the AKS API server (the same in every tenant; AKS docs, "kubelogin"). */
export const AKS_SERVER_ID = '6dae42f8-4368-4678-94ff-3960e28e3630';

export type KubeloginMode = 'azurecli' | 'workloadidentity';

interface KubeUser {
  name: string;
  user: Record<string, unknown> & { exec?: Record<string, unknown> & { command?: string; args?: string[] } };
}

const STATIC_CREDENTIALS = ['token', 'tokenFile', 'client-certificate-data', 'client-key-data', 'password', 'username', 'auth-provider'];

/**
 * Rewrites every user to `kubelogin get-token --login <mode> --server-id <AKS>`; fails if the kubeconfig
 * carries a static credential (local accounts must be off) or a user that is not kubelogin.
 */
export function kubeloginKubeconfig(raw: string, mode: KubeloginMode = 'azurecli'): string {
  const doc = parse(raw) as { users?: KubeUser[] } & Record<string, unknown>;
  const users = doc.users ?? [];
  if (users.length === 0) throw new Error('AKS returned a kubeconfig without users.');
  for (const u of users) {
    const statics = STATIC_CREDENTIALS.filter((k) => k in (u.user ?? {}));
    if (statics.length > 0) {
      throw new Error(`The kubeconfig user ${u.name} carries a static credential (${statics.join(', ')}): local accounts must be off (disableLocalAccounts).`);
    }
    if (u.user?.exec?.command !== 'kubelogin') throw new Error(`The kubeconfig user ${u.name} does not use kubelogin (got ${String(u.user?.exec?.command)}).`);
    const args = u.user.exec.args ?? [];
    const serverId = args[args.indexOf('--server-id') + 1] ?? AKS_SERVER_ID;
    u.user = {
      exec: {
        apiVersion: 'client.authentication.k8s.io/v1beta1',
        command: 'kubelogin',
        args: ['get-token', '--login', mode, '--server-id', args.includes('--server-id') ? serverId : AKS_SERVER_ID],
        env: null,
        provideClusterInfo: false,
        interactiveMode: 'Never',
        installHint: 'kubelogin is not installed: https://azure.github.io/kubelogin/install.html (or `az aks install-cli`).',
      },
    };
  }
  return stringify(doc);
}
