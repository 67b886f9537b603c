/**
 * Domain errors. Services throw these; each door maps them: GraphQL to `extensions.code`, pages
 * to a message next to the field, the CLI to one line and a non-zero exit.
 * Messages never echo secret input.
 */
export class DomainError extends Error {
  override name = 'DomainError';
}

/** Input that breaks a rule; `field` names the input field (GraphQL argument, form field). */
export class ValidationError extends DomainError {
  override name = 'ValidationError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export class NotFoundError extends DomainError {
  override name = 'NotFoundError';
}

export class ConflictError extends DomainError {
  override name = 'ConflictError';
}

export class ForbiddenError extends DomainError {
  override name = 'ForbiddenError';
}

export class UnauthenticatedError extends DomainError {
  override name = 'UnauthenticatedError';
}

/** PostgreSQL unique_violation, from either driver. */
export function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';
}

/**
 * Too much expensive work is already in flight (argon2): refused at once rather than queued
 * without bound. Doors answer 503 with Retry-After (GraphQL: SERVICE_UNAVAILABLE).
 */
export class BusyError extends DomainError {
  override name = 'BusyError';
  constructor(readonly retryAfter: number) {
    super('The server is busy; try again in a moment.');
  }
}
