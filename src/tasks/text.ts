// Text models, read off their graphs: the task kind (from the shapes, or as the user says), the token inputs by
// name, and what the output holds (classes, or a vocabulary for a language model).
import type { Dim } from '../onnx/builder.js';
import { declaredType, feedInputs, formatShape } from '../onnx/declared-type.js';
import type { Model } from '../onnx/ir.js';
import { inferTypes } from '../onnx/shapes.js';
import type { TaskKind } from './task.js';

/** The kinds `--task` accepts. */
export const TASK_KINDS: readonly TaskKind[] = ['image-classification', 'sequence-classification', 'language-modelling'];

/** The commands that take text models, for refusals. */
export const TEXT_COMMANDS = 'eval, grad and bench';

/** The graph facts of a text model. */
export interface TextIO {
  kind: 'sequence-classification' | 'language-modelling';
  /** The data inputs (token ids, attention mask, token type ids, …), int64 [batch, sequence], in graph order. */
  inputs: string[];
  /** The output that gives the logits: [batch, classes], or [batch, sequence, vocabulary] for a language model. */
  output: string;
  /** Classes, or the vocabulary size for a language model. */
  classes: number;
  /** The batch size the graph hard-codes, when it does. */
  fixedBatch?: number;
}

function outputShape(model: Model): { name: string; shape?: Dim[] } {
  const out = model.graph.outputs[0];
  if (!out) throw new Error('the model has no outputs');
  let shape = declaredType(out).shape;
  try {
    shape = inferTypes(model).get(out.name)?.shape ?? shape;
  } catch {
    // the declared shape, when inference cannot run
  }
  return { name: out.name, shape };
}

/** True when every data input is an integer tensor of rank 2: token ids and their companions. */
export function takesTokens(model: Model): boolean {
  const ins = feedInputs(model);
  return (
    ins.length > 0 &&
    ins.every((v) => {
      const t = declaredType(v);
      return (t.dtype === 'int64' || t.dtype === 'int32') && t.shape?.length === 2;
    })
  );
}

/**
 * The task a model serves, from its shapes: token inputs int64 [batch, sequence] with logits [batch, sequence, V] is a
 * language model, with logits [batch, classes] a sequence classifier; anything else is image classification.
 *
 * @example inferTaskKind(readModel('test/fixtures/text/lstm-lm.onnx')) // 'language-modelling'
 */
export function inferTaskKind(model: Model): TaskKind {
  if (!takesTokens(model)) return 'image-classification';
  return outputShape(model).shape?.length === 3 ? 'language-modelling' : 'sequence-classification';
}

/**
 * Parse `--task`.
 *
 * @example parseTaskKind('language-modelling') // 'language-modelling'
 */
export function parseTaskKind(s: string): TaskKind {
  if (!(TASK_KINDS as readonly string[]).includes(s)) throw new Error(`unknown task '${s}': expected one of ${TASK_KINDS.join(', ')}`);
  return s as TaskKind;
}

/**
 * Read a text model's facts off its graph, or refuse one that does not fit `kind` with one clear error.
 *
 * @param name the model's name for messages (its path)
 * @example textIO(readModel('test/fixtures/text/bert-cls.onnx')) // { kind: 'sequence-classification', inputs: ['input_ids', 'attention_mask', 'token_type_ids'], … }
 */
export function textIO(model: Model, name = 'the model', kind: TaskKind = inferTaskKind(model)): TextIO {
  if (kind === 'image-classification') throw new Error(`${name} is not a text model`);
  const ins = feedInputs(model);
  if (!takesTokens(model)) {
    const got = ins.map((v) => `${v.name} ${declaredType(v).dtype ?? '?'} ${formatShape(declaredType(v).shape)}`).join(', ');
    throw new Error(`${name} does not take token ids: a ${kind} model's inputs are integer [batch, sequence] tensors, but it has ${got}`);
  }
  const out = outputShape(model);
  const want = kind === 'language-modelling' ? 3 : 2;
  const classes = out.shape?.[want - 1];
  if (out.shape?.length !== want || typeof classes !== 'number' || classes < 2) {
    const form = kind === 'language-modelling' ? '[batch, sequence, vocabulary]' : '[batch, classes]';
    throw new Error(
      `${name} is not a ${kind} model: its first output '${out.name}' is ${out.shape ? formatShape(out.shape) : 'of unknown shape'}, not logits ${form}`,
    );
  }
  const batch = declaredType(ins[0]).shape?.[0];
  return { kind, inputs: ins.map((v) => v.name), output: out.name, classes, fixedBatch: typeof batch === 'number' ? batch : undefined };
}
