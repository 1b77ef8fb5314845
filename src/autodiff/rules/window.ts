// The window geometry that convolutions and pools share: kernel, strides, dilations and pads (auto_pad resolved),
// spatial sizes, the positions of window taps, and the ConvTranspose that maps a window grid back onto its input.
import { float } from '../../onnx/attributes.js';
import { AttrType } from '../../onnx/proto.js';
import type { Attrs, GradContext } from '../grad-context.js';

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

/** A Conv or pool node's window attributes as written (defaults filled in for `n` spatial dims), auto_pad unresolved. */
export function windowAttrs(g: GradContext, n: number): { strides: number[]; dilations: number[]; pads: number[]; autoPad: string } {
  return {
    strides: g.attrInts('strides', new Array(n).fill(1)),
    dilations: g.attrInts('dilations', new Array(n).fill(1)),
    pads: g.attrInts('pads', new Array(2 * n).fill(0)),
    autoPad: g.attrString('auto_pad', 'NOTSET'),
  };
}

/** Strides, dilations and explicit pads of a Conv or pool node, with auto_pad resolved against `inSize`. */
export function resolveWindow(g: GradContext, inSize: number[], kernel: number[]): Window {
  const n = inSize.length;
  const { strides, dilations, autoPad, pads } = windowAttrs(g, n);
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

/** Output spatial sizes of a window sliding over `inSize` (floor mode). */
export function outputSize(inSize: number[], win: Window): number[] {
  return inSize.map((n, i) => Math.floor((n + win.padsBegin[i] + win.padsEnd[i] - effective(win.kernel[i], win.dilations[i])) / win.strides[i]) + 1);
}

/** Input position, along spatial axis i, of tap k of the window at output position o (negative or ≥ size: padding). */
export function tapPosition(win: Window, i: number, o: number, k: number): number {
  return o * win.strides[i] - win.padsBegin[i] + k * win.dilations[i];
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
