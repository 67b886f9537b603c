/**
 * Domain errors. Services throw these; each door maps them: GraphQL to `extensions.code`, pages
 * to a message next to the field, the CLI to one line and a non-zero exit.
 * Messages never echo secret input.
 */
export class DomainError extends Error {
  override name = 'DomainError';
}

export interface FieldIssue {
  field: string;
  message: string;
}

/**
 * Input that breaks rules. `issues` lists every broken rule (so a form can mark each field at
 * once); `field` is the first, for callers that show one.
 */
export class ValidationError extends DomainError {
  override name = 'ValidationError';
  readonly issues: readonly FieldIssue[];
  constructor(
    readonly field: string,
    message: string,
    issues?: readonly FieldIssue[],
  ) {
    super(message);
    this.issues = issues && issues.length > 0 ? issues : [{ field, message }];
  }

  /** One error for several issues; the message lists them all (the CLI prints it on one line). */
  static of(issues: readonly FieldIssue[]): ValidationError {
    return new ValidationError(issues[0].field, issues.map((i) => i.message).join(' '), issues);
  }

  /** The messages per field, joined when a field broke several rules (for forms). */
  byField(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const i of this.issues) out[i.field] = out[i.field] ? `${out[i.field]} ${i.message}` : i.message;
    return out;
  }
}

/** Gathers the issues of several checks, so one answer reports every invalid field. */
export class IssueCollector {
  readonly issues: FieldIssue[] = [];

  /** Runs a check; a ValidationError is recorded and `fallback` returned instead. */
  check<T>(run: () => T, fallback: T): T {
    try {
      return run();
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      this.issues.push(...err.issues);
      return fallback;
    }
  }

  add(field: string, message: string): void {
    this.issues.push({ field, message });
  }

  has(field: string): boolean {
    return this.issues.some((i) => i.field === field);
  }

  throwIfAny(): void {
    if (this.issues.length > 0) throw ValidationError.of(this.issues);
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

/** A per-address limit was reached before the work was done; retry after `retryAfter` seconds. */
export class TooManyAttemptsError extends DomainError {
  override name = 'TooManyAttemptsError';
  constructor(readonly retryAfter: number) {
    super(`Too many attempts; retry after ${retryAfter} seconds.`);
  }
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
