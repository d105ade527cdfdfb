// The prod stack with a custom domain and a Let's Encrypt certificate (cert-manager, HTTP-01 through
// the gateway) through the real program under mocks; see stack-checks.ts and https-checks.ts.
import { describeStack } from './stack-checks';
import { LETSENCRYPT_OVERRIDES } from './tls-variants';

// Also the low-tail scoring configuration on prod's 2-CPU pods: one model thread on one intra-op thread,
// with no idle wait for company.
describeStack('prod', {
  ...LETSENCRYPT_OVERRIDES,
  'model-deploy:scoringModelThreads': '1',
  'model-deploy:scoringIntraOpThreads': '1',
  'model-deploy:scoringBatchMaxWaitMs': '0',
});
