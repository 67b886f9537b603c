import type { Readable, Writable } from 'node:stream';
import { UsageError } from './command.js';

/** What the CLI reads a password from: process.stdin, or a stand-in in tests. */
export interface PasswordInput extends Readable {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

/**
 * Reads one line at a terminal without echoing it: raw mode, so the characters never reach the
 * screen (nor the scrollback). Backspace edits; Ctrl-C or Ctrl-D on an empty line cancels.
 */
export function promptHidden(input: PasswordInput, output: Writable, prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    if (!input.isTTY || !input.setRawMode) {
      reject(new UsageError('cannot prompt for a password: stdin is not a terminal'));
      return;
    }
    // Raw mode before the prompt: whatever is typed once the prompt shows is never echoed.
    input.setRawMode(true);
    output.write(prompt);
    input.setEncoding('utf8');
    let value = '';
    const finish = (err?: Error) => {
      input.off('data', onData);
      input.setRawMode?.(false);
      input.pause();
      output.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003' || (ch === '\u0004' && value === '')) {
          return finish(new UsageError('cancelled'));
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    input.on('data', onData);
    input.resume();
  });
}

/** Asks twice at a terminal; the two must agree. */
export async function promptNewPassword(input: PasswordInput, output: Writable): Promise<string> {
  const first = await promptHidden(input, output, 'Password: ');
  if (!first) throw new UsageError('the password must not be empty');
  const second = await promptHidden(input, output, 'Repeat the password: ');
  if (first !== second) throw new UsageError('the passwords do not match');
  return first;
}

/** `--password-stdin`: the first line of stdin, without its line ending (works in a pipe). */
export function readLine(input: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    input.setEncoding('utf8');
    const done = () => {
      input.off('data', onData);
      input.off('end', done);
      input.off('error', onError);
      input.pause();
      const line = buffered.split('\n')[0].replace(/\r$/, '');
      if (!line) reject(new UsageError('--password-stdin: stdin held no password'));
      else resolve(line);
    };
    const onData = (chunk: string) => {
      buffered += chunk;
      if (buffered.includes('\n')) done();
    };
    const onError = (err: Error) => reject(err);
    input.on('data', onData);
    input.on('end', done);
    input.on('error', onError);
    input.resume();
  });
}
