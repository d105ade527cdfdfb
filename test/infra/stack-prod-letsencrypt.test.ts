// The prod stack with a custom domain and a Let's Encrypt certificate (cert-manager, HTTP-01 through
// the gateway) through the real program under mocks; see stack-checks.ts and https-checks.ts.
import { describeStack } from './stack-checks';
import { LETSENCRYPT_OVERRIDES } from './tls-variants';

describeStack('prod', LETSENCRYPT_OVERRIDES);
