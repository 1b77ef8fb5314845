// Which com.microsoft contrib ops this onnxruntime-node build registers (training ops such as ConvGrad would
// replace whole backward lowerings). `node --import tsx bench/contrib-ops.ts`
import * as ort from 'onnxruntime-node';
import { emptyGraph, makeModel, tensorValueInfo } from '../src/onnx/builder.js';
import { encodeModel } from '../src/onnx/model-io.js';
for (const [op, nin, nout] of [
  ['ConvGrad', 3, 3],
  ['ReluGrad', 2, 1],
  ['MaxPoolGrad', 2, 1],
  ['BatchNormalizationGrad', 5, 3],
  ['FusedConv', 2, 1],
  ['NhwcConv', 2, 1],
  ['FusedMatMul', 2, 1],
  ['BiasGelu', 2, 1],
  ['SoftmaxGrad', 2, 1],
] as const) {
  const g = emptyGraph();
  for (let i = 0; i < nin; i++) g.inputs.push(tensorValueInfo(`i${i}`, 'float32', [2, 2, 3, 3]));
  for (let i = 0; i < nout; i++) g.outputs.push({ name: `o${i}` });
  g.nodes.push({
    opType: op,
    domain: 'com.microsoft',
    name: 'n',
    inputs: Array.from({ length: nin }, (_, i) => `i${i}`),
    outputs: Array.from({ length: nout }, (_, i) => `o${i}`),
    attributes: [],
  });
  const m = makeModel(g, 17);
  m.opsetImports.push({ domain: 'com.microsoft', version: 1 });
  try {
    await ort.InferenceSession.create(encodeModel(m));
    console.log(op, 'loads');
  } catch (e) {
    console.log(op, 'no:', (e as Error).message.slice(0, 120));
  }
}
