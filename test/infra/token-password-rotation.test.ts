// ACR token password rotation (infra/registry.ts tokenPasswordRotation). The ACR rule it relies on: a
// token has two password slots, password1 and password2, each generated on its own with an optional
// expiry (ACR docs, "Create a token with repository-scoped permissions": "regenerate ... password1 or
// password2"); regenerating one leaves the other valid.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenPasswordRotation } from '../../infra/registry';

const DAY = 86_400_000;
const P = 30;
const start = Date.UTC(2026, 0, 1);

describe('tokenPasswordRotation', () => {
  test('stable within a period: repeated runs change nothing', () => {
    const period = Math.floor(start / (P * DAY)) * P * DAY;
    assert.deepEqual(tokenPasswordRotation(period, P), tokenPasswordRotation(period + P * DAY - 1, P));
  });

  test('each new period switches slot, and the password in use stays valid through the whole next period (no pull outage)', () => {
    for (let day = 0; day < 200; day += 7) {
      const now = start + day * DAY;
      const current = tokenPasswordRotation(now, P);
      const next = tokenPasswordRotation(now + P * DAY, P);
      assert.notEqual(next.passwordName, current.passwordName, `day ${day}`);
      // The next password is generated at the earliest when the next period starts; until that period ends, the current one still works.
      const nextPeriodEnd = (Math.floor((now + P * DAY) / (P * DAY)) + 1) * P * DAY;
      assert.ok(Date.parse(current.expiry) >= nextPeriodEnd, `day ${day}: ${current.expiry}`);
      assert.ok(Date.parse(current.expiry) - now <= 2 * P * DAY, 'and expires within two periods');
    }
  });

  test('an expiry ACR accepts (ISO 8601 UTC, whole seconds)', () => {
    assert.match(tokenPasswordRotation(start, P).expiry, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  test('a bad period is refused naming the config key', () => {
    assert.throws(() => tokenPasswordRotation(start, 0), /acrPasswordRotationDays must be a whole number of days >= 1, got 0/);
  });
});
