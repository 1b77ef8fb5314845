// The trained models shipped with scalpel (models/ at the package root), by name.
import { fileURLToPath } from 'node:url';

function shipped(file: string): string {
  return fileURLToPath(new URL(`../../models/${file}`, import.meta.url));
}

/**
 * Paths of the ONNX models that come with scalpel (from src/ and dist/ alike): LeNet-5 and ResNet-20 trained on
 * Fashion-MNIST, their corruption-hardened versions, and a LeNet-5 with a BadNets backdoor.
 *
 * @example const model = readModel(SHIPPED_MODELS['lenet5-fashion']);
 */
export const SHIPPED_MODELS = {
  'lenet5-fashion': shipped('lenet5-fashion.onnx'),
  'lenet5-fashion-hardened': shipped('lenet5-fashion-hardened.onnx'),
  'lenet5-badnets': shipped('lenet5-badnets.onnx'),
  'resnet20-fashion': shipped('resnet20-fashion.onnx'),
  'resnet20-fashion-hardened': shipped('resnet20-fashion-hardened.onnx'),
} as const;
