// Classification metrics from logits and labels, accumulated batch by batch.
import type { HostTensor } from '../tensor/host-tensor.js';

export interface ClassificationReport {
  examples: number;
  accuracy: number;
  /** Mean softmax cross-entropy. */
  loss: number;
  perClassAccuracy: number[];
  /** confusion[true][predicted] counts. */
  confusion: number[][];
}

/** Accumulates accuracy, loss and the confusion matrix over batches of logits. */
export class ClassificationMeter {
  private n = 0;
  private correct = 0;
  private lossSum = 0;
  readonly confusion: number[][];

  constructor(readonly classes: number) {
    this.confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  }

  /** Add a batch: logits [B, C] and int64 labels [B]. Returns the predictions. */
  add(logits: HostTensor, labels: HostTensor): Int32Array {
    const [b, c] = logits.dims;
    if (c !== this.classes) throw new Error(`model outputs ${c} classes, the dataset has ${this.classes}`);
    const z = logits.data as Float32Array;
    const preds = new Int32Array(b);
    for (let i = 0; i < b; i++) {
      const y = Number(labels.data[i]);
      if (!(y >= 0 && y < c)) throw new Error(`label ${y} at example ${this.n + i} is out of range [0, ${c})`);
      let best = 0;
      let max = -Infinity;
      for (let k = 0; k < c; k++)
        if (z[i * c + k] > max) {
          max = z[i * c + k];
          best = k;
        }
      let sum = 0;
      for (let k = 0; k < c; k++) sum += Math.exp(z[i * c + k] - max);
      this.lossSum += Math.log(sum) + max - z[i * c + y];
      preds[i] = best;
      if (best === y) this.correct++;
      this.confusion[y][best]++;
    }
    this.n += b;
    return preds;
  }

  report(): ClassificationReport {
    const perClassAccuracy = this.confusion.map((row, k) => {
      const total = row.reduce((a, b) => a + b, 0);
      return total ? row[k] / total : NaN;
    });
    return {
      examples: this.n,
      accuracy: this.n ? this.correct / this.n : NaN,
      loss: this.n ? this.lossSum / this.n : NaN,
      perClassAccuracy,
      confusion: this.confusion.map((r) => [...r]),
    };
  }
}
