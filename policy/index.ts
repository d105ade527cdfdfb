// The policy pack the Pulumi CLI loads: `pulumi preview --policy-pack policy` (see .github/workflows).
// The rules live in policies.ts, where the tests can run them without the policy host.
import { PolicyPack } from '@pulumi/policy';
import { policies, stackPolicies } from './policies';

new PolicyPack('model-deploy-security', { policies: [...policies, ...stackPolicies] });
