import type { GradContext, GradRule } from '../grad-context.js';
import { copyAttrs, effective, offsets, resolveWindow, spatialSize } from './Conv.js';

// Y = max over each window of X, I = flat index of the argmax.  dX = Σ_windows dY scattered to I (ScatterElements, reduction add)
export const MaxPool: GradRule = (g) => {
  const x = g.I(0);
  const dy = g.GO(0);
  const idx = argmaxIndices(g);
  const flatDy = g.op('Reshape', dy, g.ints([-1]));
  const flatIdx = g.op('Reshape', idx, g.ints([-1]));
  const zeros = g.op('Reshape', g.zerosLike(x), g.ints([-1]));
  let flat: string;
  if (g.opset >= 16) {
    flat = g.op('ScatterElements', zeros, flatIdx, flatDy, { axis: 0, reduction: 'add' });
  } else if (!overlapping(g)) {
    // Disjoint windows pick distinct elements, so a plain scatter adds nothing twice.
    flat = g.op('ScatterElements', zeros, flatIdx, flatDy, { axis: 0 });
  } else {
    flat = scatterByOffset(g, x, dy, idx, zeros);
  }
  g.setGI(0, g.op('Reshape', flat, g.op('Shape', x)));
};

/** The node's Indices output (row-major flat indices into X), or those of a second MaxPool that exposes them. */
function argmaxIndices(g: GradContext): string {
  if (g.O(1) && g.attrInt('storage_order', 0) === 0) return g.O(1);
  const attrs = copyAttrs(g, ['auto_pad', 'ceil_mode', 'dilations', 'kernel_shape', 'pads', 'strides']);
  return g.opN('MaxPool', [g.I(0)], 2, attrs)[1];
}

function overlapping(g: GradContext): boolean {
  const k = g.attrInts('kernel_shape', []);
  const s = g.attrInts('strides', new Array(k.length).fill(1));
  const d = g.attrInts('dilations', new Array(k.length).fill(1));
  return k.some((ki, i) => s[i] < effective(ki, d[i]));
}

/**
 * Before opset 16 ScatterElements cannot add. For each kernel offset, the windows whose argmax sits at that
 * offset hit distinct elements; scatter those, send the others to a spare slot past the end, and sum.
 */
function scatterByOffset(g: GradContext, x: string, dy: string, idx: string, zeros: string): string {
  const inSize = spatialSize(g, x, 'input');
  const outSize = spatialSize(g, g.O(0), 'output');
  const kernel = g.attrInts('kernel_shape', []);
  const win = resolveWindow(g, inSize, kernel);
  const plane = inSize.reduce((a, b) => a * b, 1);
  const local = g.op('Mod', idx, g.ints([plane]));
  const spare = g.op('Reshape', g.op('Size', x), g.ints([1]));
  const padded = g.op('Concat', zeros, g.op('Reshape', g.scalar(0, dy), g.ints([1])), { axis: 0 });
  const flatDy = g.op('Reshape', dy, g.ints([-1]));
  const windows = offsets(outSize);
  const parts: string[] = [];
  for (const k of offsets(kernel)) {
    // The flat in-plane position of offset k in every window, or -1 where it falls in the padding.
    const pos = new BigInt64Array(windows.length);
    windows.forEach((o, w) => {
      let p = 0;
      for (let i = 0; i < inSize.length; i++) {
        const c = o[i] * win.strides[i] - win.padsBegin[i] + k[i] * win.dilations[i];
        if (p < 0 || c < 0 || c >= inSize[i]) p = -1;
        else p = p * inSize[i] + c;
      }
      pos[w] = BigInt(p);
    });
    const at = g.op('Constant', { value: { dtype: 'int64', dims: outSize, data: pos } });
    const target = g.op('Where', g.op('Equal', local, at), idx, spare);
    parts.push(g.op('ScatterElements', padded, g.op('Reshape', target, g.ints([-1])), flatDy, { axis: 0 }));
  }
  const sum = parts.length === 1 ? parts[0] : g.op('Sum', ...parts);
  return g.op('Slice', sum, g.ints([0]), spare, g.ints([0]));
}
