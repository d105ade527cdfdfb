// Physical Azure names. Azure's rules differ per resource type (storage accounts: 3-24 lowercase
// alphanumerics, globally unique; registries: 5-50 alphanumerics, globally unique; ...), so one pure
// function derives every name from the prefix, the environment and a per-stack random suffix, and
// fails with a sentence naming the options when the result would break the rule. EVERY name carries the
// suffix: names unique only per resource group (group, cluster, workspace) still collide when two stacks
// with the same prefix and environment (two developers' dev stacks) share a subscription.

export type AzureNameKind =
  | 'resourceGroup'
  | 'storageAccount'
  | 'containerRegistry'
  | 'kubernetesCluster'
  | 'logAnalytics'
  | 'appInsights'
  | 'iotHub'
  | 'publicIp';

interface NameRule {
  /** Abbreviation from the Cloud Adoption Framework. */
  abbreviation: string;
  separator: '' | '-';
  pattern: RegExp;
  rule: string;
}

const RULES: Record<AzureNameKind, NameRule> = {
  resourceGroup: { abbreviation: 'rg', separator: '-', pattern: /^[-\w.()]{1,89}[-\w()]$/, rule: '1-90 letters, digits, -_.() not ending in .' },
  storageAccount: { abbreviation: 'st', separator: '', pattern: /^[a-z0-9]{3,24}$/, rule: '3-24 lowercase letters or digits' },
  containerRegistry: { abbreviation: 'cr', separator: '', pattern: /^[a-zA-Z0-9]{5,50}$/, rule: '5-50 letters or digits' },
  kubernetesCluster: { abbreviation: 'aks', separator: '-', pattern: /^[a-zA-Z0-9][-_a-zA-Z0-9]{0,61}[a-zA-Z0-9]$/, rule: '2-63 letters, digits, - or _' },
  logAnalytics: { abbreviation: 'log', separator: '-', pattern: /^[a-zA-Z0-9][-a-zA-Z0-9]{2,61}[a-zA-Z0-9]$/, rule: '4-63 letters, digits or -' },
  appInsights: { abbreviation: 'appi', separator: '-', pattern: /^[-\w.()]{1,260}$/, rule: '1-260 letters, digits, -_.()' },
  publicIp: { abbreviation: 'pip', separator: '-', pattern: /^[a-zA-Z0-9](?:[-\w.]{0,78}\w)$/, rule: '1-80 letters, digits, -_. starting with a letter or digit and ending with a letter, digit or _' },
  iotHub: { abbreviation: 'iot', separator: '-', pattern: /^[a-zA-Z0-9](?:[a-zA-Z0-9-]{1,48}[a-zA-Z0-9])$/, rule: '3-50 letters, digits or -, not starting or ending with -' },
};

/**
 * The physical name of an Azure resource, e.g. `azureName('storageAccount', 'mdeploy', 'dev', 'k3x9q2')`
 * -> `stmdeploydevk3x9q2`, `azureName('resourceGroup', ...)` -> `rg-mdeploy-dev-k3x9q2`.
 */
export function azureName(kind: AzureNameKind, prefix: string, environment: string, suffix: string): string {
  const r = RULES[kind];
  const parts = [r.abbreviation, prefix, environment, suffix].filter((p) => p !== '');
  const name = parts.join(r.separator);
  if (!r.pattern.test(name)) {
    throw new Error(
      `The ${kind} name "${name}" built from namePrefix "${prefix}", environment "${environment}" and suffix "${suffix}" ` +
        `breaks Azure's rule (${r.rule}); shorten namePrefix or environment.`,
    );
  }
  return name;
}

/** The common tags plus the component that owns the resource (lets cost reports group by concern). */
export function componentTags(tags: Record<string, string>, component: string): Record<string, string> {
  return { ...tags, component };
}
