import { float } from '../../onnx/attributes.js';
import { AttrType } from '../../onnx/proto.js';
import type { Attrs, GradContext, GradRule } from '../grad-context.js';

// Y = conv(X, W) + B.  dX = convTranspose(dY, W),  dW[m,c,k] = Σ_{n,o} dY[n,m,o] Xpad[n,c,o·s+k·d],  dB = Σ_{n,o} dY
export const Conv: GradRule = (g) => {
  const x = g.I(0);
  const w = g.I(1);
  const dy = g.GO(0);
  const inSize = spatialSize(g, x, 'input');
  const kernel = kernelSize(g, w);
  const win = resolveWindow(g, inSize, kernel);
  const outSize = inSize.map((n, i) => Math.floor((n + win.padsBegin[i] + win.padsEnd[i] - effective(kernel[i], win.dilations[i])) / win.strides[i]) + 1);
  const group = g.attrInt('group', 1);
  if (g.needs(0)) g.setGI(0, transposeBack(g, dy, w, { ...win, inSize, outSize, group }));
  if (g.needs(1)) g.setGI(1, convWeightGrad(g, x, dy, { ...win, inSize, outSize, group }));
  if (g.I(2) && g.needs(2)) g.setGI(2, g.reduceSum(dy, [0, ...spatialAxes(inSize.length)], false));
};

/** Window geometry of a convolution or pool, pads resolved (auto_pad applied). */
export interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  padsBegin: number[];
  padsEnd: number[];
}

/** A convolution's full geometry: window, spatial sizes of its input and output, group count. */
export interface ConvGeometry extends Window {
  inSize: number[];
  outSize: number[];
  group: number;
}

export function effective(k: number, d: number): number {
  return (k - 1) * d + 1;
}

export function spatialAxes(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 2);
}

/** The static spatial sizes (dims 2…) of value `name`; throws a clear error when they are not static. */
export function spatialSize(g: GradContext, name: string, what: string): number[] {
  const s = g.shape(name);
  if (!s || s.length < 3 || !s.slice(2).every((d) => typeof d === 'number')) {
    throw new Error(
      `${g.node.opType} node '${g.node.name}': the gradient needs the static spatial size of its ${what} '${name}', ` +
        `but its shape is ${s ? `[${s.map((d) => d ?? '?').join(', ')}]` : 'unknown'}`,
    );
  }
  return s.slice(2) as number[];
}

/** Kernel sizes: the kernel_shape attribute, else the static spatial dims of the weight. */
export function kernelSize(g: GradContext, w: string): number[] {
  return g.hasAttr('kernel_shape') ? g.attrInts('kernel_shape', []) : spatialSize(g, w, 'weight');
}

/** Strides, dilations and explicit pads of a Conv or pool node, with auto_pad resolved against `inSize`. */
export function resolveWindow(g: GradContext, inSize: number[], kernel: number[]): Window {
  const n = inSize.length;
  const strides = g.attrInts('strides', new Array(n).fill(1));
  const dilations = g.attrInts('dilations', new Array(n).fill(1));
  const autoPad = g.attrString('auto_pad', 'NOTSET');
  const pads = g.attrInts('pads', new Array(2 * n).fill(0));
  let padsBegin = pads.slice(0, n);
  let padsEnd = pads.slice(n, 2 * n);
  if (autoPad === 'VALID') {
    padsBegin = new Array(n).fill(0);
    padsEnd = new Array(n).fill(0);
  } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    for (let i = 0; i < n; i++) {
      const out = Math.ceil(inSize[i] / strides[i]);
      const total = Math.max(0, (out - 1) * strides[i] + effective(kernel[i], dilations[i]) - inSize[i]);
      const small = Math.floor(total / 2);
      padsBegin[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      padsEnd[i] = total - padsBegin[i];
    }
  }
  return { kernel, strides, dilations, padsBegin, padsEnd };
}

/**
 * End padding and output_padding for a ConvTranspose that maps a window grid of `outSize` back onto an
 * input of `inSize`: the full transposed output is s·(out-1)+k_eff, cropped by `padsBegin` at the start.
 */
export function transposeCrop(p: ConvGeometry): { padsEnd: number[]; outputPadding: number[] } {
  const padsEnd: number[] = [];
  const outputPadding: number[] = [];
  p.inSize.forEach((n, i) => {
    const total = p.strides[i] * (p.outSize[i] - 1) + effective(p.kernel[i], p.dilations[i]) - p.padsBegin[i];
    padsEnd.push(Math.max(0, total - n));
    outputPadding.push(Math.max(0, n - total));
  });
  return { padsEnd, outputPadding };
}

/** dX of a convolution: ConvTranspose of `dy` by `w` with the forward geometry, sized back to the input. */
export function transposeBack(g: GradContext, dy: string, w: string, p: ConvGeometry): string {
  const { padsEnd, outputPadding } = transposeCrop(p);
  return g.op('ConvTranspose', dy, w, {
    strides: p.strides,
    dilations: p.dilations,
    pads: [...p.padsBegin, ...padsEnd],
    output_padding: outputPadding,
    group: p.group,
  });
}

/** The lowerings of a convolution's weight gradient (standard ops only; they differ in speed by shape). */
export type WeightGradVariant = 'dilated-conv' | 'onehot-im2col';

/**
 * dW[m,c,k] = Σ_{n,o} dy[n,m,o] · xpad[n, g(m)·Cg + c, o·s + k·d] for a convolution of `x` with geometry `p`,
 * shaped [M, C/group, k…].
 */
export function convWeightGrad(g: GradContext, x: string, dy: string, p: ConvGeometry, variant = pickWeightGradVariant(p)): string {
  return variant === 'onehot-im2col' ? dwOnehotIm2col(g, x, dy, p) : dwDilatedConv(g, x, dy, p);
}

/**
 * The one place the dW lowering is chosen. Measured on onnxruntime 1.30 CPU, one thread: the dilated Conv
 * won for 5×5 kernels (LeNet's layers: 1.3 vs 1.9 ms, 1.1 vs 1.4 ms at batch 64; 5.4 vs 8.2 ms for
 * 16×32×16×16), the one-hot im2col for kernels of 9 taps or fewer (3×3 at 16×32×16×16 stride 2:
 * 0.72 vs 1.31 ms; 64×16×8×8: 0.76 vs 1.21 ms; 1-D k5: 0.25 vs 0.41 ms).
 */
export function pickWeightGradVariant(p: ConvGeometry): WeightGradVariant {
  const taps = p.kernel.reduce((a, b) => a * b, 1);
  return taps >= 16 ? 'dilated-conv' : 'onehot-im2col';
}

// Batch and channels swapped: Conv(Xᵀ [C,N,…], dYᵀ [M,N,…]) with strides = dilations and dilations = strides.
function dwDilatedConv(g: GradContext, x: string, dy: string, p: ConvGeometry): string {
  const n = p.inSize.length;
  const sp = spatialAxes(n);
  const G = p.group;
  let xt: string;
  if (G === 1) xt = g.op('Transpose', x, { perm: [1, 0, ...sp] });
  else {
    // [N, G·Cg, …] -> [Cg, G·N, …] with channels ordered group-major, as a grouped Conv expects.
    const split = g.op('Reshape', x, g.ints([0, G, -1, ...p.inSize]));
    const t = g.op('Transpose', split, { perm: [2, 1, 0, ...sp.map((a) => a + 1)] });
    xt = g.op('Reshape', t, g.ints([0, -1, ...p.inSize]));
  }
  const dyt = g.op('Transpose', dy, { perm: [1, 0, ...sp] });
  // Drop end padding that no window reaches; what is left over beyond the kernel is sliced off.
  const padsEnd: number[] = [];
  let over = false;
  for (let i = 0; i < n; i++) {
    const used = (p.outSize[i] - 1) * p.strides[i] + effective(p.kernel[i], p.dilations[i]);
    const spare = p.inSize[i] + p.padsBegin[i] + p.padsEnd[i] - used;
    const cut = Math.min(p.padsEnd[i], spare);
    padsEnd.push(p.padsEnd[i] - cut);
    if (spare - cut >= p.dilations[i]) over = true;
  }
  let r = g.op('Conv', xt, dyt, { strides: p.dilations, dilations: p.strides, pads: [...p.padsBegin, ...padsEnd], group: G });
  if (over) r = g.op('Slice', r, g.ints(new Array(n).fill(0)), g.ints(p.kernel), g.ints(sp));
  return g.op('Transpose', r, { perm: [1, 0, ...sp] });
}

// im2col by a Conv with one-hot kernels (channels folded into the batch), then one batched MatMul per group.
function dwOnehotIm2col(g: GradContext, x: string, dy: string, p: ConvGeometry): string {
  const K = p.kernel.reduce((a, b) => a * b, 1);
  const dt = g.dtype(x) === 'float64' ? 'float64' : 'float32';
  const eye = dt === 'float64' ? new Float64Array(K * K) : new Float32Array(K * K);
  for (let i = 0; i < K; i++) eye[i * K + i] = 1;
  const kernel = g.op('Constant', { value: { dtype: dt, dims: [K, 1, ...p.kernel], data: eye } });
  const flat = g.op('Reshape', x, g.ints([-1, 1, ...p.inSize]));
  const c = g.op('Conv', flat, kernel, { strides: p.strides, dilations: p.dilations, pads: [...p.padsBegin, ...p.padsEnd] }); // [N·C, K, out…]
  const col = g.op('Reshape', c, g.op('Concat', g.op('Slice', g.op('Shape', x), g.ints([0]), g.ints([2])), g.ints([K, ...p.outSize]), { axis: 0 }));
  return im2colMatMul(g, col, dy, p);
}

// col [N, C, K, out…] and dy [N, M, out…] -> dW [M, C/G, k…]: per group, dY_g [Mg, N·P] @ col_gᵀ [N·P, Cg·K].
function im2colMatMul(g: GradContext, col: string, dy: string, p: ConvGeometry): string {
  const G = p.group;
  const P = p.outSize.reduce((a, b) => a * b, 1);
  const cols = g.op('Reshape', g.op('Transpose', g.op('Reshape', col, g.ints([0, G, -1, P])), { perm: [1, 2, 0, 3] }), g.ints([0, 0, -1])); // [G, Cg·K, N·P]
  const dys = g.op('Reshape', g.op('Transpose', g.op('Reshape', dy, g.ints([0, G, -1, P])), { perm: [1, 2, 0, 3] }), g.ints([0, 0, -1])); // [G, Mg, N·P]
  const dw = g.op('MatMul', dys, g.op('Transpose', cols, { perm: [0, 2, 1] })); // [G, Mg, Cg·K]
  return g.op('Reshape', g.op('Flatten', dw, { axis: 2 }), g.ints([0, -1, ...p.kernel])); // [M, Cg, k…]
}

/** The forward node's attributes among `names`, to copy onto a node the rule emits. */
export function copyAttrs(g: GradContext, names: readonly string[]): Attrs {
  const out: Attrs = {};
  for (const { name, type } of g.node.attributes) {
    if (!name || !names.includes(name)) continue;
    if (type === AttrType.INT) out[name] = g.attrInt(name, 0);
    else if (type === AttrType.INTS) out[name] = g.attrInts(name, []);
    else if (type === AttrType.STRING) out[name] = g.attrString(name, '');
    else if (type === AttrType.FLOAT) out[name] = float(g.attrFloat(name, 0));
  }
  return out;
}

/** Every multi-index of a kernel, row-major. */
export function offsets(kernel: number[]): number[][] {
  let out: number[][] = [[]];
  for (const k of kernel) out = out.flatMap((prefix) => Array.from({ length: k }, (_, i) => [...prefix, i]));
  return out;
}
