// The only module that imports onnxruntime-node: sessions, feeds, caching, threads, devices.
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import type { DType, HostTensor } from '../tensor/host-tensor.js';
import type { Model } from '../onnx/ir.js';
import { encodeModel } from '../onnx/model-io.js';

export interface RuntimeOptions {
  /** Execution provider: 'cpu' (default) or any other the installed onnxruntime offers ('cuda', 'coreml', 'dml', …). */
  executionProvider?: string;
  /** Intra-op threads (default: the number of cores). */
  threads?: number;
}

let defaults: Required<RuntimeOptions> = { executionProvider: 'cpu', threads: availableParallelism() };

/** Change the runtime defaults for every session created afterwards. */
export function configureRuntime(opts: RuntimeOptions): void {
  defaults = { ...defaults, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) };
}

const ORT_TYPE: Record<DType, ort.Tensor.Type> = {
  float32: 'float32', float64: 'float64', int64: 'int64', int32: 'int32', int8: 'int8', uint8: 'uint8', bool: 'bool', float16: 'float16',
};

function toOrt(t: HostTensor): ort.Tensor {
  return new ort.Tensor(ORT_TYPE[t.dtype], t.data as never, t.dims);
}

function fromOrt(t: ort.Tensor): HostTensor {
  const dtype = (t.type === 'bool' ? 'bool' : t.type) as DType;
  if (!(dtype in ORT_TYPE)) throw new Error(`onnxruntime returned a tensor of unsupported type ${t.type}`);
  return { dtype, dims: [...t.dims], data: t.data as HostTensor['data'] };
}

/** A compiled model: run it with named host tensors, get named host tensors back. */
export class Executable {
  constructor(private readonly session: ort.InferenceSession) {}

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** Run the model. `outputs` defaults to every graph output. */
  async run(feeds: Record<string, HostTensor>, outputs?: readonly string[]): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const name of this.session.inputNames) {
      const t = feeds[name];
      if (!t) throw new Error(`no value fed for model input '${name}'`);
      ortFeeds[name] = toOrt(t);
    }
    let res: ort.InferenceSession.ReturnType;
    try {
      res = outputs ? await this.session.run(ortFeeds, [...outputs]) : await this.session.run(ortFeeds);
    } catch (e) {
      throw new Error(`onnxruntime failed: ${(e as Error).message}`);
    }
    const out: Record<string, HostTensor> = {};
    for (const [k, v] of Object.entries(res)) out[k] = fromOrt(v as ort.Tensor);
    return out;
  }

  /** Free the session now (only for sessions from compileUncached: cached ones are shared). It cannot run afterwards. */
  async release(): Promise<void> {
    await this.session.release();
  }
}

const cache = new Map<string, Promise<Executable>>();

/**
 * Compile a model into an onnxruntime session, cached by its bytes and options.
 *
 * @example const exe = await compile(model); const { logits } = await exe.run({ x });
 */
export function compile(model: Model, opts: RuntimeOptions = {}): Promise<Executable> {
  const o = { ...defaults, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as Required<RuntimeOptions>;
  const bytes = encodeModel(model);
  const key = createHash('sha1').update(bytes).update(`${o.executionProvider}/${o.threads}`).digest('hex');
  let exe = cache.get(key);
  if (!exe) {
    exe = createSession(bytes, o).catch((e: Error) => {
      cache.delete(key);
      throw e;
    });
    cache.set(key, exe);
  }
  return exe;
}

function createSession(bytes: Uint8Array, o: Required<RuntimeOptions>, oneOff = false): Promise<Executable> {
  return ort.InferenceSession.create(bytes, {
    executionProviders: [o.executionProvider],
    intraOpNumThreads: o.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // A one-off session runs a few batches: planning a memory pattern on its first run (about 3 ms for LeNet-5 at
    // batch 200, a third of a batch) does not pay off.
    enableMemPattern: !oneOff,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  }).then(
    (s) => new Executable(s),
    (e: Error) => {
      throw new Error(`onnxruntime could not load the graph: ${e.message}`);
    },
  );
}

/**
 * Compile a model into a session of its own, outside the cache, for one-off models (a corrupted copy evaluated
 * once); release() it when done.
 *
 * @example const exe = await compileUncached(corrupted); try { await exe.run({ x }); } finally { await exe.release(); }
 */
export function compileUncached(model: Model, opts: RuntimeOptions = {}): Promise<Executable> {
  const o = { ...defaults, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as Required<RuntimeOptions>;
  return createSession(encodeModel(model), o, true);
}

/** Drop every cached session (for long-running processes and tests). */
export function clearSessionCache(): void {
  cache.clear();
}
