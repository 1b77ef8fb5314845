// The only module that imports onnxruntime-node: sessions, feeds, caching, threads, devices.
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import type { DType, HostTensor } from '../tensor/host-tensor.js';
import type { Model } from '../onnx/ir.js';
import { encodeModel } from '../onnx/model-io.js';
import { blockProbeModel, lowerToNchwc } from './nchwc.js';

export interface RuntimeOptions {
  /** Execution provider: 'cpu' (default) or any other the installed onnxruntime offers ('cuda', 'coreml', 'dml', …). */
  executionProvider?: string;
  /** Intra-op threads (default: the number of cores). */
  threads?: number;
  /**
   * Standard ONNX ops only (default false). On the CPU provider, compile() otherwise runs Convs whose filters
   * are fed or computed on onnxruntime's NCHWc kernels (src/runtime/nchwc.ts); other providers always get the
   * standard graph. The environment variable SCALPEL_PORTABLE=1 makes true the default.
   */
  portable?: boolean;
}

let defaults: Required<RuntimeOptions> = { executionProvider: 'cpu', threads: availableParallelism(), portable: process.env.SCALPEL_PORTABLE === '1' };

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
  const key = createHash('sha1').update(bytes).update(`${o.executionProvider}/${o.threads}/${fastPath(o) ? 'nchwc' : 'portable'}`).digest('hex');
  let exe = cache.get(key);
  if (!exe) {
    exe = lowered(model, bytes, o).then((b) => createSession(b, o)).catch((e: Error) => {
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
    logSeverityLevel: 3, // errors only: no raw onnxruntime warnings ("Removing initializer …") on the user's stderr
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
  return lowered(model, undefined, o).then((b) => createSession(b, o, true));
}

function fastPath(o: Required<RuntimeOptions>): boolean {
  return o.executionProvider === 'cpu' && !o.portable;
}

/** The bytes onnxruntime gets: the model as it is, or on the CPU fast path with fed-filter Convs lowered to NCHWc. */
async function lowered(model: Model, bytes: Uint8Array | undefined, o: Required<RuntimeOptions>): Promise<Uint8Array> {
  if (fastPath(o) && model.graph.nodes.some((n) => n.opType === 'Conv')) {
    const block = await nchwcBlockSize();
    if (block > 0) {
      const low = lowerToNchwc(model, block);
      if (low.convs > 0) return encodeModel(low.model);
    }
  }
  return bytes ?? encodeModel(model);
}

let blockSize: Promise<number> | undefined;

/**
 * The channel block size of onnxruntime's NCHWc kernels on this CPU (8 with AVX2, 16 with AVX-512), measured once
 * per process: ReorderInput of a 4-channel tensor pads its channels to one block. 0 when this onnxruntime build
 * has no NCHWc kernels (compile() then keeps standard ops).
 *
 * @example const B = await nchwcBlockSize(); // 16 on an AVX-512 machine
 */
export function nchwcBlockSize(): Promise<number> {
  blockSize ??= (async () => {
    const bytes = encodeModel(blockProbeModel());
    const s = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1 });
    try {
      const r = await s.run({ x: new ort.Tensor('float32', new Float32Array(4), [1, 4, 1, 1]) });
      return Number((r[s.outputNames[0]] as ort.Tensor).dims[1]);
    } finally {
      await s.release();
    }
  })().catch(() => 0);
  return blockSize;
}

/** Drop every cached session (for long-running processes and tests). */
export function clearSessionCache(): void {
  cache.clear();
}
