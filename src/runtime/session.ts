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
  /**
   * Whether idle intra-op worker threads spin (busy-wait) for the next parallel section instead of sleeping
   * (onnxruntime's `session.intra_op.allow_spinning`; default false). Spinning wins on an otherwise idle machine
   * and loses badly when other processes want the cores. Only matters with more than one thread.
   */
  spinning?: boolean;
  /**
   * onnxruntime's adaptive work splitting (`session.dynamic_block_base`): 0 (default) splits each parallel loop
   * into fixed blocks; a positive value starts with larger blocks that shrink as the loop drains.
   */
  dynamicBlockBase?: number;
}

let defaults: Required<RuntimeOptions> = {
  executionProvider: 'cpu',
  threads: availableParallelism(),
  portable: process.env.SCALPEL_PORTABLE === '1',
  spinning: false,
  dynamicBlockBase: 0,
};

/** Change the runtime defaults for every session created afterwards. */
export function configureRuntime(opts: RuntimeOptions): void {
  defaults = { ...defaults, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) };
}

const ORT_TYPE: Record<DType, ort.Tensor.Type> = {
  float32: 'float32',
  float64: 'float64',
  int64: 'int64',
  int32: 'int32',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
  float16: 'float16',
};

function toOrt(t: HostTensor): ort.Tensor {
  return new ort.Tensor(ORT_TYPE[t.dtype], t.data as never, t.dims);
}

function fromOrt(t: ort.Tensor): HostTensor {
  const dtype = (t.type === 'bool' ? 'bool' : t.type) as DType;
  if (!(dtype in ORT_TYPE)) throw new Error(`onnxruntime returned a tensor of unsupported type ${t.type}`);
  return { dtype, dims: [...t.dims], data: t.data as HostTensor['data'] };
}

/** How a cached Executable gets back into the cache and re-opens its session after an eviction released it. */
interface Revival {
  readmit(): void;
  reopen(): Promise<ort.InferenceSession>;
}

/**
 * A compiled model: run it with named host tensors, get named host tensors back. A cached one whose session the
 * cache evicted (see configureSessionCache) re-opens it on its next run.
 */
export class Executable {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  private session: ort.InferenceSession | undefined;
  private opening: Promise<ort.InferenceSession> | undefined;
  private inFlight = 0;
  private evicted = false;

  constructor(
    session: ort.InferenceSession,
    private readonly revival?: Revival,
  ) {
    this.session = session;
    this.inputNames = [...session.inputNames];
    this.outputNames = [...session.outputNames];
  }

  /** Whether this Executable holds an open onnxruntime session (false after release() or an eviction). */
  get open(): boolean {
    return this.session !== undefined;
  }

  /** Run the model. `outputs` defaults to every graph output. */
  async run(feeds: Record<string, HostTensor>, outputs?: readonly string[]): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const name of this.inputNames) {
      const t = feeds[name];
      if (!t) throw new Error(`no value fed for model input '${name}'`);
      ortFeeds[name] = toOrt(t);
    }
    this.inFlight++;
    try {
      const session = await this.acquire();
      let res: ort.InferenceSession.ReturnType;
      try {
        res = outputs ? await session.run(ortFeeds, [...outputs]) : await session.run(ortFeeds);
      } catch (e) {
        throw new Error(`onnxruntime failed: ${(e as Error).message}`);
      }
      const out: Record<string, HostTensor> = {};
      for (const [k, v] of Object.entries(res)) out[k] = fromOrt(v as ort.Tensor);
      return out;
    } finally {
      this.inFlight--;
      if (this.evicted && this.inFlight === 0) void this.drop();
    }
  }

  /** Free the session now (for sessions from compileUncached; a cached one re-opens on its next run). */
  async release(): Promise<void> {
    await this.drop();
  }

  /** Called by the cache: release the session once no run uses it. */
  evict(): void {
    this.evicted = true;
    if (this.inFlight === 0) void this.drop();
  }

  private async acquire(): Promise<ort.InferenceSession> {
    if (this.evicted && this.revival) {
      this.evicted = false;
      this.revival.readmit();
    }
    if (this.session) return this.session;
    if (!this.revival) throw new Error('this session was released');
    this.opening ??= this.revival.reopen().then(
      (s) => {
        this.session = s;
        this.opening = undefined;
        return s;
      },
      (e: Error) => {
        this.opening = undefined;
        throw e;
      },
    );
    return this.opening;
  }

  private async drop(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    if (s) await s.release();
  }
}

/** Bounds of compile()'s session cache. */
export interface SessionCacheLimits {
  /** Most sessions kept open (default 32). */
  maxSessions?: number;
  /**
   * Most bytes of (encoded) models behind the open sessions (default 2 GiB); the newest session is kept whatever its
   * size. A cached entry holds its session and the Model it was compiled from (to re-open after an eviction), so
   * the memory behind the cache is about twice this for models whose weights are initializers.
   */
  maxBytes?: number;
}

interface CacheEntry {
  exe: Promise<Executable>;
  bytes: number;
}

// Least recently used first: a hit moves its entry to the end.
const cache = new Map<string, CacheEntry>();
let limits: Required<SessionCacheLimits> = { maxSessions: 32, maxBytes: 2 * 2 ** 30 };

/**
 * Bound compile()'s session cache (least recently used sessions are released first) and return the bounds now in
 * force. An Executable whose session was released re-opens it when it runs again.
 *
 * @example configureSessionCache({ maxSessions: 8 }); // a sweep over many models keeps at most 8 sessions open
 */
export function configureSessionCache(l: SessionCacheLimits = {}): Required<SessionCacheLimits> {
  for (const [k, v] of Object.entries(l)) if (v !== undefined && !(v >= 1)) throw new Error(`session cache limit ${k} must be at least 1 (got ${v})`);
  limits = { ...limits, ...Object.fromEntries(Object.entries(l).filter(([, v]) => v !== undefined)) };
  evictOverLimits();
  return { ...limits };
}

/**
 * The sessions in compile()'s cache and the bytes of their models.
 *
 * @example const { sessions, bytes } = sessionCacheStats(); // at most configureSessionCache().maxSessions sessions
 */
export function sessionCacheStats(): { sessions: number; bytes: number } {
  let bytes = 0;
  for (const e of cache.values()) bytes += e.bytes;
  return { sessions: cache.size, bytes };
}

function admit(key: string, entry: CacheEntry): void {
  // An evicted Executable coming back may find a newer one compiled for the same key: that one goes.
  const other = cache.get(key);
  if (other && other !== entry)
    void other.exe.then(
      (x) => x.evict(),
      () => {},
    );
  cache.delete(key);
  cache.set(key, entry);
  evictOverLimits();
}

function evictOverLimits(): void {
  let { bytes } = sessionCacheStats();
  for (const [key, entry] of cache) {
    if (cache.size <= 1 || (cache.size <= limits.maxSessions && bytes <= limits.maxBytes)) break;
    cache.delete(key);
    bytes -= entry.bytes;
    void entry.exe.then(
      (x) => x.evict(),
      () => {},
    );
  }
}

function cacheKey(bytes: Uint8Array, o: Required<RuntimeOptions>): string {
  return createHash('sha1')
    .update(bytes)
    .update(`${o.executionProvider}/${o.threads}/${fastPath(o) ? 'nchwc' : 'portable'}/${o.spinning}/${o.dynamicBlockBase}`)
    .digest('hex');
}

/**
 * Compile a model into an onnxruntime session, cached by its bytes and options (least recently used sessions
 * are released beyond the bounds of configureSessionCache).
 *
 * @example const exe = await compile(model); const { logits } = await exe.run({ x });
 */
export function compile(model: Model, opts: RuntimeOptions = {}): Promise<Executable> {
  const o = runtimeDefaults(opts);
  const bytes = encodeModel(model);
  const key = cacheKey(bytes, o);
  const hit = cache.get(key);
  if (hit) {
    admit(key, hit);
    return hit.exe;
  }
  const entry: CacheEntry = { exe: Promise.resolve(undefined as never), bytes: bytes.byteLength };
  const revival: Revival = {
    readmit: () => admit(key, entry),
    reopen: () => {
      // Re-encoded from the model: refuse if it changed since compile(), rather than run other weights.
      const again = encodeModel(model);
      if (cacheKey(again, o) !== key)
        return Promise.reject(new Error('the model changed after compile() and its session was evicted from the cache; compile it again'));
      return lowered(model, again, o).then((b) => openSession(b, o));
    },
  };
  entry.exe = lowered(model, bytes, o)
    .then((b) => openSession(b, o))
    .then(
      (s) => new Executable(s, revival),
      (e: Error) => {
        if (cache.get(key) === entry) cache.delete(key);
        throw e;
      },
    );
  admit(key, entry);
  return entry.exe;
}

/**
 * The onnxruntime session options for runtime options `o` (one place, shared with the bench's profiler).
 *
 * @example const so = sessionOptions({ ...runtimeDefaults(), threads: 2 }); // so.intraOpNumThreads === 2
 */
export function sessionOptions(o: Required<RuntimeOptions>, oneOff = false): ort.InferenceSession.SessionOptions {
  const session: Record<string, unknown> = { intra_op: { allow_spinning: o.spinning ? '1' : '0' } };
  if (o.dynamicBlockBase > 0) session.dynamic_block_base = String(o.dynamicBlockBase);
  return {
    executionProviders: [o.executionProvider],
    intraOpNumThreads: o.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3, // errors only: no raw onnxruntime warnings ("Removing initializer …") on the user's stderr
    // A one-off session runs a few batches: planning a memory pattern on its first run (about 3 ms for LeNet-5 at
    // batch 200, a third of a batch) does not pay off.
    enableMemPattern: !oneOff,
    extra: { session },
  };
}

/**
 * The current runtime defaults merged with `opts` (undefined fields keep the default).
 *
 * @example runtimeDefaults({ threads: 1 }).spinning; // false unless configureRuntime changed it
 */
export function runtimeDefaults(opts: RuntimeOptions = {}): Required<RuntimeOptions> {
  return { ...defaults, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as Required<RuntimeOptions>;
}

function openSession(bytes: Uint8Array, o: Required<RuntimeOptions>, oneOff = false): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, sessionOptions(o, oneOff)).catch((e: Error) => {
    throw new Error(`onnxruntime could not load the graph: ${e.message}`);
  });
}

/**
 * Compile a model into a session of its own, outside the cache, for one-off models (a corrupted copy evaluated
 * once); release() it when done.
 *
 * @example const exe = await compileUncached(corrupted); try { await exe.run({ x }); } finally { await exe.release(); }
 */
export function compileUncached(model: Model, opts: RuntimeOptions = {}): Promise<Executable> {
  const o = runtimeDefaults(opts);
  return lowered(model, undefined, o)
    .then((b) => openSession(b, o, true))
    .then((s) => new Executable(s));
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

/** Release every cached session (for long-running processes and tests); their Executables re-open on their next run. */
export function clearSessionCache(): void {
  const entries = [...cache.values()];
  cache.clear();
  for (const e of entries)
    void e.exe.then(
      (x) => x.evict(),
      () => {},
    );
}
