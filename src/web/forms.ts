import type { Request } from 'express';

/** One form field as a string; absent, repeated or non-string values read as undefined. */
export function field(req: Request, name: string): string | undefined {
  const body = req.body as Record<string, unknown> | undefined;
  const value = body?.[name];
  return typeof value === 'string' ? value : undefined;
}

/** A checkbox group or repeated field: every string value, in order. */
export function fields(req: Request, name: string): string[] {
  const body = req.body as Record<string, unknown> | undefined;
  const value = body?.[name];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

/** A textarea holding one entry per line (or separated by spaces or commas). */
export function listField(req: Request, name: string): string[] {
  return (field(req, name) ?? '')
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}
