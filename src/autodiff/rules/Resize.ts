import type { GradContext, GradRule } from '../grad-context.js';
import { constInts } from './tensor-helpers.js';

const COORD_MODES = new Set(['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn']);
const NEAREST_MODES = new Set(['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil']);
const f32 = Math.fround;

// Y = Resize(X), modes nearest and linear.  Both interpolate each axis separately with a fixed matrix A_a (out × in),
// Y = X ×_a A_a over the resized axes a, so dX = dY ×_a A_aᵀ: one MatMul per resized axis with a constant matrix built
// here from the lengths and attributes (nearest: 0/1 rows, the scatter-add of dY to its source pixels; linear: the
// interpolation weights). The resized axes need static lengths; the others (a batch) may be symbolic.
export const Resize: GradRule = (g) => {
  const x = g.I(0);
  const fail: (why: string) => never = (why) => {
    throw new Error(`Resize node '${g.node.name}': no gradient ${why}`);
  };
  const mode = g.attrString('mode', 'nearest');
  if (mode !== 'nearest' && mode !== 'linear') fail(`for mode '${mode}' (only 'nearest' and 'linear' are supported)`);
  const coord = g.attrString('coordinate_transformation_mode', 'half_pixel');
  if (!COORD_MODES.has(coord)) fail(`for coordinate_transformation_mode '${coord}' (supported: ${[...COORD_MODES].join(', ')})`);
  const nearestMode = g.attrString('nearest_mode', 'round_prefer_floor');
  if (mode === 'nearest' && !NEAREST_MODES.has(nearestMode)) fail(`for nearest_mode '${nearestMode}'`);
  if (g.attrInt('antialias', 0) !== 0) fail('with antialias=1');
  if (g.attrInt('exclude_outside', 0) !== 0) fail('with exclude_outside=1');
  const policy = g.attrString('keep_aspect_ratio_policy', 'stretch');

  const shape = g.shape(x);
  if (!shape) fail(`without the rank of '${x}', which is unknown`);
  const r = shape.length;
  const axes = (g.opset >= 18 && g.hasAttr('axes') ? g.attrInts('axes', []) : shape.map((_, i) => i)).map((a) => (a < 0 ? a + r : a));
  const scalesIn = g.I(2) ? constInts(g, g.I(2)) : [];
  const sizesIn = g.I(3) ? constInts(g, g.I(3)) : [];
  if (scalesIn === undefined || sizesIn === undefined) fail('unless its scales or sizes are constants');
  const bySizes = sizesIn.length > 0;
  const given = bySizes ? sizesIn : scalesIn;
  if (given.length !== axes.length) fail(`for ${given.length} ${bySizes ? 'sizes' : 'scales'} on ${axes.length} axes`);
  if (bySizes && policy !== 'stretch') fail(`with keep_aspect_ratio_policy '${policy}'`);

  // Per resized axis: input and output lengths, and the scale the coordinate transform divides by, as onnxruntime
  // computes them (float32). Axes with scale 1 (or size unchanged) are the identity and may have any length.
  const resized: { axis: number; inLen: number; outLen: number; scale: number }[] = [];
  axes.forEach((a, i) => {
    const d = shape[a];
    if (bySizes ? d === given[i] : f32(given[i]) === 1) return;
    if (typeof d !== 'number') fail(`when axis ${a}, which it resizes, has no static length in '${x}' (shape ${JSON.stringify(shape)})`);
    const scale = bySizes ? f32(given[i] / d) : f32(given[i]);
    const outLen = bySizes ? given[i] : Math.trunc(f32(scale * d));
    const o = g.shape(g.O(0))?.[a];
    // NOTE: onnxruntime's kernel truncates the float32 product scale × in (10 × 0.7f gives 7), the ONNX shape floors the exact one (6).
    if (typeof o === 'number' && o !== outLen)
      fail(`when its inferred output length ${o} on axis ${a} differs from the ${outLen} onnxruntime's kernel computes`);
    resized.push({ axis: a, inLen: d, outLen, scale });
  });

  const dtype = g.dtype(g.GO(0));
  if (dtype !== 'float32' && dtype !== 'float64') fail(`for element type ${dtype}`);
  let dx = g.GO(0);
  // Each step replaces one output axis length by the input's.
  for (const { axis, inLen, outLen, scale } of resized) {
    const m = axisMatrix(mode, coord, nearestMode, inLen, outLen, scale);
    if (m) dx = applyAlong(g, dx, axis, r, m, inLen, outLen, dtype);
  }
  g.setGI(0, dx);
};

/** The coordinate in the input that output index `o` samples, in float32 arithmetic as onnxruntime's CPU kernel does. */
function sourceCoord(coord: string, o: number, scale: number, outLen: number, inLen: number): number {
  switch (coord) {
    case 'asymmetric':
      return f32(o / scale);
    case 'tf_half_pixel_for_nn':
      return f32(f32(o + 0.5) / scale);
    case 'align_corners':
      return outLen === 1 ? 0 : f32(f32(o * (inLen - 1)) / (outLen - 1));
    case 'pytorch_half_pixel':
      return outLen > 1 ? f32(f32(f32(o + 0.5) / scale) - 0.5) : 0;
    default: // half_pixel
      return f32(f32(f32(o + 0.5) / scale) - 0.5);
  }
}

const roundHalfAway = (v: number) => Math.sign(v) * Math.round(Math.abs(v));

function nearestIndex(mode: string, v: number): number {
  switch (mode) {
    case 'floor':
      return Math.floor(v);
    case 'ceil':
      return Math.ceil(v);
    case 'round_prefer_ceil':
      return roundHalfAway(v);
    default:
      return v === Math.trunc(v) + 0.5 ? Math.floor(v) : roundHalfAway(v); // round_prefer_floor
  }
}

/**
 * The out × in interpolation matrix of one axis (row-major), or undefined when it is the identity.
 * Linear follows onnxruntime's bilinear setup: the coordinate clamped to [0, in-1], weights |x - x1| and |x - x2| in
 * float32, half each when both neighbours are the same pixel.
 */
function axisMatrix(mode: string, coord: string, nearestMode: string, inLen: number, outLen: number, scale: number): Float64Array | undefined {
  if (inLen === outLen && scale === 1) return undefined;
  const m = new Float64Array(outLen * inLen);
  for (let o = 0; o < outLen; o++) {
    if (mode === 'nearest') {
      const i = Math.min(Math.max(nearestIndex(nearestMode, sourceCoord(coord, o, scale, outLen, inLen)), 0), inLen - 1);
      m[o * inLen + i] = 1;
      continue;
    }
    const v = Math.max(0, Math.min(sourceCoord(coord, o, scale, outLen, inLen), inLen - 1));
    const i1 = Math.min(Math.trunc(v), inLen - 1);
    const i2 = Math.min(i1 + 1, inLen - 1);
    let w1 = f32(Math.abs(v - i1)); // the weight of i2
    let w2 = f32(Math.abs(v - i2)); // the weight of i1
    if (i1 === i2) w1 = w2 = 0.5;
    m[o * inLen + i1] += w2;
    m[o * inLen + i2] += w1;
  }
  if (outLen === inLen && m.every((w, k) => w === (Math.floor(k / inLen) === k % inLen ? 1 : 0))) return undefined;
  return m;
}

/** dX along axis a: contract dY's axis a (length outLen) with the out × in matrix m. */
function applyAlong(g: GradContext, dy: string, a: number, r: number, m: Float64Array, inLen: number, outLen: number, dtype: 'float32' | 'float64'): string {
  const data = dtype === 'float64' ? new Float64Array(m) : Float32Array.from(m);
  if (a === r - 1) {
    // [..., out] @ [out, in]
    const mat = g.op('Constant', { value: { dtype, dims: [outLen, inLen], data } });
    return g.op('MatMul', dy, mat);
  }
  // [in, out] @ [..., out, k]: the transpose, laid out on the host.
  const t = dtype === 'float64' ? new Float64Array(inLen * outLen) : new Float32Array(inLen * outLen);
  for (let o = 0; o < outLen; o++) for (let i = 0; i < inLen; i++) t[i * outLen + o] = m[o * inLen + i];
  const matT = g.op('Constant', { value: { dtype, dims: [inLen, outLen], data: t } });
  if (a === r - 2) return g.op('MatMul', matT, dy);
  // Any other axis: move it next to last, contract, move it back.
  const perm = Array.from({ length: r }, (_, i) => i);
  perm[a] = r - 2;
  perm[r - 2] = a;
  return g.op('Transpose', g.op('MatMul', matT, g.op('Transpose', dy, { perm })), { perm });
}
