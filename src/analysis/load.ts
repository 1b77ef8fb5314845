// Former home of the loading helpers, split by concern (graph facts in onnx/, data files in data/, output paths in
// cli/); re-exported here for the modules that still import them from this path.
export { type DeclaredType, declaredType, feedInputs, formatShape } from '../onnx/declared-type.js';
export { checkGraphComplete } from '../onnx/graph-check.js';
export { loadModel, openModel, readCheckedModel, type LoadedModel } from '../onnx/load-model.js';
export { loadData } from '../data/load-data.js';
