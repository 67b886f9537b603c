import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Nothing secret is ever passed to the logger; the redaction list is a
 * second line of defence for headers and fields that could carry credentials.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'latchkey' },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'res.headers["set-cookie"]',
          '*.password',
          '*.client_secret',
          '*.clientSecret',
          '*.token',
          '*.access_token',
          '*.refresh_token',
          '*.code',
          '*.code_verifier',
        ],
        censor: '[redacted]',
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
