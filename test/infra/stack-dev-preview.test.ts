// The dev stack as a pull request previews it (Reader role); see preview-checks.ts.
import { describePreview } from './preview-checks';

describePreview('dev');
