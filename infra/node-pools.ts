// The AKS workload node pools as a plan: a pure function from the config to the pools that should exist.
// VM size, zones, OS SKU and OS disk size of a pool cannot change in place (ARM answers
// PropertyChangeNotAllowed), and editing pools inline in the cluster puts every pool into Scaling
// (pulumi/pulumi-azure-native#4264). So workloads run on separate AgentPool resources whose NAME is
// derived from exactly those immutable properties: a change yields a new name, Pulumi creates the new
// pool first and deletes the old one last, and AKS cordons and drains the old nodes as it deletes them.
// Counts stay out of the name: they update in place.
import { createHash } from 'node:crypto';

export interface WorkloadPoolsConfig {
  vmSize: string;
  /** Availability zones; empty = no zone pinning. */
  zones: string[];
  minCount: number;
  maxCount: number;
  osDiskSizeGb: number;
}

export interface NodePoolPlan {
  /** AKS pool name: 1-12 lowercase letters and digits, starting with a letter. */
  name: string;
  vmSize: string;
  /** One zone per pool when the workload spreads over zones; empty = no zone pinning. */
  zones: string[];
  minCount: number;
  maxCount: number;
  osDiskSizeGb: number;
  osSku: 'AzureLinux';
}

const OS_SKU = 'AzureLinux' as const;

/**
 * One pool per zone when there is more than one zone: the cluster autoscaler cannot choose which zone
 * of a multi-zone pool gets the next node, so pods spread with `whenUnsatisfiable: DoNotSchedule`
 * would stay Pending (AKS docs, "cluster autoscaler ... balance-similar-node-groups"). Each zonal pool
 * gets the per-zone share of the counts, rounded up so the totals are never below the config's.
 */
export function planWorkloadPools(c: WorkloadPoolsConfig): NodePoolPlan[] {
  if (c.maxCount < c.minCount) throw new Error(`Node pools: aksNodeMaxCount (${c.maxCount}) is below aksNodeMinCount (${c.minCount}).`);
  const zoneSets = c.zones.length > 1 ? [...c.zones].sort().map((z) => [z]) : [c.zones];
  const n = zoneSets.length;
  return zoneSets.map((zones) => {
    const identity = JSON.stringify([c.vmSize, zones, OS_SKU, c.osDiskSizeGb]);
    const hash = createHash('sha256').update(identity).digest('hex').slice(0, 6);
    return {
      name: `wk${zones.length === 1 ? `z${zones[0]}` : ''}${hash}`,
      vmSize: c.vmSize,
      zones,
      minCount: Math.ceil(c.minCount / n),
      maxCount: Math.ceil(c.maxCount / n),
      osDiskSizeGb: c.osDiskSizeGb,
      osSku: OS_SKU,
    };
  });
}

/** The taint that keeps application pods off the system pool (AKS docs, "Manage system node pools"). */
export const SYSTEM_POOL_TAINT = 'CriticalAddonsOnly=true:NoSchedule';
