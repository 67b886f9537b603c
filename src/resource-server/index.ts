/**
 * latchkey/resource-server: protect an API with tokens from Latchkey (or any RFC 8414
 * authorization server issuing RFC 9068 JWT access tokens or answering RFC 7662 introspection).
 * Standalone: nothing here imports the authorization server.
 */
export { authOf, type TokenAuth, type VerifiedToken } from './auth.js';
export { type Challenge, challengeHeader } from './challenge.js';
export type { AuthorizationServerMetadata } from './discovery.js';
export { type DpopOptions, type JtiStore, MemoryJtiStore } from './dpop.js';
export {
  type BearerErrorCode,
  insufficientScope,
  invalidDpopProof,
  invalidRequest,
  invalidToken,
  TokenError,
  UpstreamError,
} from './errors.js';
export type { Fetch } from './http.js';
export type { IntrospectionClient } from './introspection.js';
export {
  type ProtectedResourceMetadataOptions,
  protectedResourceMetadata,
  protectedResourceMetadataDocument,
  resourceMetadataUrl,
} from './metadata.js';
export { type ProofOfPossession, type RequireTokenOptions, requireToken } from './require-token.js';
export { requireScopes } from './scopes.js';
export {
  createTokenVerifier,
  type TokenVerifier,
  type VerificationMode,
  type VerifierOptions,
} from './verifier.js';
