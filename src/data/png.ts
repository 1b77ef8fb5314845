// A minimal PNG encoder (8-bit grayscale or RGB, no interlace) for images of masks and patterns.
import { deflateSync } from 'node:zlib';
import { crc32 } from './npy.js';

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * Encode an image of values in [0, 1], planar [C, H, W] with C = 1 (grayscale) or 3 (RGB), as PNG bytes.
 * Values are clamped to [0, 1] and rounded to 8 bits; `scale` enlarges each pixel to a scale × scale block.
 *
 * @example writeFileSync('mask.png', encodePng(mask, { channels: 1, height: 28, width: 28, scale: 4 }));
 */
export function encodePng(values: ArrayLike<number>, o: { channels: 1 | 3; height: number; width: number; scale?: number }): Uint8Array {
  const { channels: C, height: H, width: W } = o;
  const s = o.scale ?? 1;
  if (values.length !== C * H * W) throw new Error(`PNG of ${C}×${H}×${W} needs ${C * H * W} values, got ${values.length}`);
  if (!Number.isInteger(s) || s < 1) throw new Error(`PNG scale must be a whole number ≥ 1, got ${s}`);
  const h = H * s;
  const w = W * s;
  const raw = new Uint8Array(h * (1 + w * C));
  for (let y = 0; y < h; y++) {
    const row = y * (1 + w * C);
    raw[row] = 0; // filter: none
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < C; c++) {
        const v = values[(c * H + Math.floor(y / s)) * W + Math.floor(x / s)];
        raw[row + 1 + x * C + c] = Math.round(255 * Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)));
      }
    }
  }
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, w);
  view.setUint32(4, h);
  header[8] = 8; // bit depth
  header[9] = C === 1 ? 0 : 2; // grayscale or truecolour
  const signature = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
  const parts = [signature, chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
