import { SCOPE_ENTRIES } from '../vocabulary.js';

/** The scopes a fresh server knows, with the description the consent page shows (SCOPES overrides). */
export const DEFAULT_SCOPES: Readonly<Record<string, string>> = Object.freeze(
  Object.fromEntries(SCOPE_ENTRIES.map((s) => [s.name, s.description])),
);
