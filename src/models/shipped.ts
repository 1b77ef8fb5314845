// The trained models shipped with scalpel (models/ at the package root), by name.
import { fileURLToPath } from 'node:url';

function shipped(file: string): string {
  return fileURLToPath(new URL(`../../models/${file}`, import.meta.url));
}

/**
 * Paths of every ONNX model that comes with scalpel (models/; from src/ and dist/ alike): LeNet-5 and ResNet-20 trained
 * on Fashion-MNIST, their corruption-hardened versions, both with a BadNets backdoor (a 4×4 white patch in the
 * bottom-right corner, target class 0), and a LeNet-5 with a blended backdoor. The backdoored ones record their
 * trigger in their metadata (scalpel.poison).
 *
 * @example const model = readModel(SHIPPED_MODELS['lenet5-fashion']);
 */
export const SHIPPED_MODELS = {
  'lenet5-fashion': shipped('lenet5-fashion.onnx'),
  'lenet5-fashion-hardened': shipped('lenet5-fashion-hardened.onnx'),
  'lenet5-badnets': shipped('lenet5-badnets.onnx'),
  'lenet5-blend': shipped('lenet5-blend.onnx'),
  'resnet20-fashion': shipped('resnet20-fashion.onnx'),
  'resnet20-fashion-hardened': shipped('resnet20-fashion-hardened.onnx'),
  'resnet20-badnets': shipped('resnet20-badnets.onnx'),
} as const;

/** The name of a shipped model. */
export type ShippedModel = keyof typeof SHIPPED_MODELS;
