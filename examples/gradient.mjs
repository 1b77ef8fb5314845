// The library example of the README, complete: the gradient of the shipped LeNet-5's cross-entropy loss on
// 16 Fashion-MNIST test images with respect to two of its parameters. Run it with `node examples/gradient.mjs`
// in a checkout (after `npm ci`) or in any project that has installed scalpel.
import { compile, differentiate, loadLabelledData, promoteToInputs, readModel, SHIPPED_MODELS, takeRows, withLoss } from 'scalpel';

// The model, with a loss on its first output (a new graph input 'y' takes the int64 labels).
const { model, loss, target } = withLoss(readModel(SHIPPED_MODELS['lenet5-fashion']), { kind: 'cross-entropy' });

// 16 test images of the Fashion-MNIST subset shipped with scalpel: x float32 [16, 1, 28, 28], y int64 [16].
const test = await loadLabelledData('embedded', 'test');
const rows = Array.from({ length: 16 }, (_, i) => i);
const x = takeRows(test.x, rows);
const y = takeRows(test.y, rows);

// Parameters become graph inputs, then the graph is differentiated into one forward+backward ONNX graph.
const params = ['conv1.weight', 'fc1.weight'];
const { model: m, values } = promoteToInputs(model, params);
const { model: g, gradients } = differentiate(m, { of: loss, wrt: params });
const exe = await compile(g); // one onnxruntime session, cached
const out = await exe.run({ x, [target]: y, ...Object.fromEntries(values) });

console.log(`loss ${out[loss].data[0].toFixed(4)} on ${y.dims[0]} images`);
for (const p of params) {
  const grad = out[gradients.get(p)]; // HostTensor { dtype, dims, data }
  const norm = Math.sqrt(grad.data.reduce((s, v) => s + v * v, 0));
  console.log(`d loss / d ${p}: ${grad.dtype} [${grad.dims.join(', ')}], L2 norm ${norm.toExponential(3)}`);
}
