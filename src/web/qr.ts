import QRCode from 'qrcode';

/** A QR code of `text` as an SVG data URI, made here (no CDN; CSP img-src allows data:). */
export async function qrDataUri(text: string): Promise<string> {
  const svg = await QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
}
