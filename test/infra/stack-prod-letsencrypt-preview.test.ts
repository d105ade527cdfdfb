// The prod stack with Let's Encrypt as a pull request previews it (Reader role); see preview-checks.ts.
import { describePreview } from './preview-checks';
import { LETSENCRYPT_OVERRIDES } from './tls-variants';

describePreview('prod', LETSENCRYPT_OVERRIDES);
