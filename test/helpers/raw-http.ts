import net from 'node:net';

/**
 * One HTTP/1.1 request written byte for byte on a socket (fetch and node:http refuse to send
 * duplicate or malformed headers, which is exactly what hostile clients send). Resolves with the
 * status code (0 when the server closed without answering) and the raw response head.
 */
export function rawRequest(
  base: string,
  path: string,
  headerLines: string[],
  opts: { method?: string; body?: string } = {},
): Promise<{ status: number; head: string }> {
  const { hostname, port } = new URL(base);
  const body = opts.body ?? '';
  const head = [
    `${opts.method ?? 'GET'} ${path} HTTP/1.1`,
    `Host: ${hostname}:${port}`,
    'Connection: close',
    ...headerLines,
    ...(body ? [`Content-Length: ${Buffer.byteLength(body, 'latin1')}`] : []),
  ].join('\r\n');
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.setTimeout(15_000, () => socket.destroy());
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, head: text.split('\r\n\r\n')[0] });
    });
    socket.write(Buffer.from(`${head}\r\n\r\n${body}`, 'latin1'));
  });
}
