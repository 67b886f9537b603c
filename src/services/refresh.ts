/**
 * Refresh-token rotation lives with its table (src/db/tables/refresh-tokens.ts): one statement
 * consumes the presented token and writes the new pair. The grant imports it from here.
 */
export {
  diagnoseRefreshToken,
  type RefreshDiagnosis,
  type RotatedFrom,
  reissueWithinGrace,
  rotateRefreshToken,
} from '../db/tables/refresh-tokens.js';
