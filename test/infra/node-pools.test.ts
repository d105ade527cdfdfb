// The node pool plan (infra/node-pools.ts) through the changes a stack goes through. ARM's rule it
// encodes: vmSize, availabilityZones, osSKU and osDiskSizeGB of an agent pool cannot change in place
// (PropertyChangeNotAllowed; AKS docs "Resize node pools": "create a new node pool ... then cordon and
// drain"). A pool's name must therefore change exactly when one of them does; counts must not rename it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { planWorkloadPools, type WorkloadPoolsConfig } from '../../infra/node-pools';

const prod: WorkloadPoolsConfig = { vmSize: 'Standard_D4s_v5', zones: ['1', '2', '3'], minCount: 3, maxCount: 10, osDiskSizeGb: 64 };
const names = (c: WorkloadPoolsConfig) => planWorkloadPools(c).map((p) => p.name);

describe('planWorkloadPools', () => {
  test('several zones: one pool per zone, each pinned to its zone, counts shared out and never below the totals', () => {
    const plan = planWorkloadPools(prod);
    assert.deepEqual(plan.map((p) => p.zones), [['1'], ['2'], ['3']]);
    assert.deepEqual(plan.map((p) => [p.minCount, p.maxCount]), [[1, 4], [1, 4], [1, 4]]);
    assert.ok(plan.reduce((s, p) => s + p.maxCount, 0) >= prod.maxCount);
    for (const p of plan) assert.match(p.name, /^[a-z][a-z0-9]{0,11}$/, 'AKS pool names: 1-12 lowercase alphanumerics');
    assert.equal(new Set(plan.map((p) => p.name)).size, 3);
  });

  test('no zones or one zone: one pool', () => {
    assert.deepEqual(planWorkloadPools({ ...prod, zones: [] }).map((p) => [p.zones, p.minCount, p.maxCount]), [[[], 3, 10]]);
    assert.deepEqual(planWorkloadPools({ ...prod, zones: ['2'] }).map((p) => p.zones), [['2']]);
  });

  test('the same config plans the same names (no churn), whatever the order of the zones', () => {
    assert.deepEqual(names(prod), names({ ...prod }));
    assert.deepEqual(names(prod), names({ ...prod, zones: ['3', '1', '2'] }));
  });

  test('counts change in place: same names', () => {
    assert.deepEqual(names(prod), names({ ...prod, minCount: 6, maxCount: 30 }));
  });

  test('a new VM size, OS disk size or zone set means new pools (created first, the old ones drained and deleted last)', () => {
    for (const change of [{ vmSize: 'Standard_D8s_v5' }, { osDiskSizeGb: 128 }, { zones: [] as string[] }]) {
      const next = names({ ...prod, ...change });
      assert.ok(next.every((n) => !names(prod).includes(n)), JSON.stringify(change));
    }
  });

  test('dropping a zone removes only that zone\'s pool; adding one adds only its pool', () => {
    const three = planWorkloadPools(prod);
    const two = names({ ...prod, zones: ['1', '2'] });
    assert.deepEqual(two, three.filter((p) => p.zones[0] !== '3').map((p) => p.name), 'zones 1 and 2 keep their pools');
    const added = names(prod).filter((n) => !two.includes(n));
    assert.deepEqual(added, [three.find((p) => p.zones[0] === '3')!.name], 'going back to three zones adds zone 3 only');
  });

  test('a max below the min is refused with both keys named', () => {
    assert.throws(() => planWorkloadPools({ ...prod, minCount: 5, maxCount: 4 }), /aksNodeMaxCount \(4\) is below aksNodeMinCount \(5\)/);
  });
});
