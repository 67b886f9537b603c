/**
 * Where to go after login: only a path on this site. Anything that a browser could read as
 * another origin (`//evil`, `/\evil`, `https://evil`, `javascript:`) or that carries control
 * characters falls back to `/` — judged both as sent and after URL normalisation.
 */
export function safeNext(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2000) return '/';
  if (!value.startsWith('/') || value.startsWith('//') || value.includes('\\')) return '/';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(value)) return '/';
  try {
    const base = 'http://latchkey.invalid';
    const url = new URL(value, base);
    if (url.origin !== base) return '/';
    const target = url.pathname + url.search + url.hash;
    // Dot segments collapse during parsing (`/..//evil` → `//evil`), so the normalised result
    // is what the browser will follow and the one that must still be a same-origin path.
    if (target.startsWith('//') || target.startsWith('/\\')) return '/';
    return target;
  } catch {
    return '/';
  }
}
