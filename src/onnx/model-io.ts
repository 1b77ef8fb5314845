// Read and write ModelProto files: decode/encode, external data, atomic writes.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import Long from 'long';
import { writeFileAtomicSync } from '../fs/atomic-write.js';
import type { Graph, Initializer, Model, Node, ValueInfo } from './ir.js';
import { ModelProtoType, type GraphProto, type ModelProto, type TensorProto, toNumber } from './proto.js';
import { tensorFromProto, tensorToProto, type ExternalDataSource } from './tensor-proto.js';

/** Tensors at least this large go to the external data file when external data is written. */
const EXTERNAL_THRESHOLD_BYTES = 1024;
/** Above this total initializer size a model is written with external data automatically (protobuf's 2 GB cap). */
const AUTO_EXTERNAL_BYTES = 1.5 * 1024 ** 3;

function graphFromProto(gp: GraphProto, src?: ExternalDataSource): Graph {
  const initializers = new Map<string, Initializer>();
  for (const t of gp.initializer ?? []) {
    const name = t.name ?? '';
    const tensor = tensorFromProto(t, src);
    const init: Initializer = { name, docString: t.docString || undefined, metadataProps: t.metadataProps?.length ? t.metadataProps : undefined };
    if (tensor) init.tensor = tensor;
    else init.opaque = t;
    initializers.set(name, init);
  }
  const vi = (v: { name?: string; type?: unknown; docString?: string; metadataProps?: unknown[] }): ValueInfo => ({
    name: v.name ?? '',
    type: v.type as ValueInfo['type'],
    docString: v.docString || undefined,
    metadataProps: v.metadataProps?.length ? (v.metadataProps as ValueInfo['metadataProps']) : undefined,
  });
  const nodes: Node[] = (gp.node ?? []).map((n) => ({
    opType: n.opType ?? '',
    domain: n.domain ?? '',
    name: n.name ?? '',
    inputs: [...(n.input ?? [])],
    outputs: [...(n.output ?? [])],
    attributes: [...(n.attribute ?? [])],
    docString: n.docString || undefined,
    metadataProps: n.metadataProps?.length ? n.metadataProps : undefined,
  }));
  const passthrough: Record<string, unknown> = {};
  if (gp.sparseInitializer?.length) passthrough.sparseInitializer = gp.sparseInitializer;
  if (gp.quantizationAnnotation?.length) passthrough.quantizationAnnotation = gp.quantizationAnnotation;
  if (gp.metadataProps?.length) passthrough.metadataProps = gp.metadataProps;
  return {
    name: gp.name ?? '',
    nodes,
    inputs: (gp.input ?? []).map(vi),
    outputs: (gp.output ?? []).map(vi),
    valueInfo: (gp.valueInfo ?? []).map(vi),
    initializers,
    docString: gp.docString || undefined,
    passthrough,
  };
}

/** Decode ONNX bytes into a Model. `source` names the file in errors and locates external data. */
export function decodeModel(bytes: Uint8Array, source = '<bytes>', baseDir?: string): Model {
  let mp: ModelProto;
  try {
    mp = ModelProtoType.toObject(ModelProtoType.decode(bytes), { defaults: false, arrays: true }) as ModelProto;
  } catch (e) {
    throw new Error(`${source} is not a valid ONNX model (protobuf decoding failed: ${(e as Error).message})`);
  }
  if (!mp.graph || !mp.opsetImport?.length) {
    throw new Error(`${source} is not an ONNX model: it has no graph or no opset import`);
  }
  const { graph, opsetImport, irVersion, ...rest } = mp;
  return {
    irVersion: toNumber(irVersion),
    opsetImports: opsetImport.map((o) => ({ domain: o.domain ?? '', version: toNumber(o.version) })),
    graph: graphFromProto(graph, baseDir ? { baseDir } : undefined),
    passthrough: rest as Record<string, unknown>,
  };
}

/** Read an ONNX model file (external data is resolved relative to its directory). */
export function readModel(path: string): Model {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `model file not found: ${path}` : `cannot read model ${path}: ${(e as Error).message}`);
  }
  if (bytes.length === 0) throw new Error(`${path} is empty, not an ONNX model`);
  return releaseFileBuffer(decodeModel(bytes, path, dirname(resolve(path))), bytes);
}

/**
 * Large aligned tensors are views into the file's bytes, unaligned ones copies. When the views hold less than half
 * of the file (a big tensor had to be copied), copy them out too, so that the file's buffer can be freed instead of
 * staying alive beside the copies (an 88M-parameter MLP whose largest weight is unaligned read as 2× its size).
 */
function releaseFileBuffer(model: Model, bytes: Uint8Array): Model {
  const views = [...model.graph.initializers.values()].filter((i) => i.tensor && i.tensor.data.buffer === bytes.buffer);
  const viewed = views.reduce((a, i) => a + i.tensor!.data.byteLength, 0);
  if (viewed === 0 || viewed * 2 >= bytes.byteLength) return model;
  for (const i of views) {
    const t = i.tensor!;
    i.tensor = { ...t, data: t.data.slice() as typeof t.data };
  }
  return model;
}

interface ExternalSink {
  file: string;
  chunks: Uint8Array[];
  offset: number;
}

function initializerProto(init: Initializer, sink?: ExternalSink): TensorProto {
  if (init.opaque) return init.opaque;
  const p = tensorToProto(init.name, init.tensor!);
  if (init.docString) p.docString = init.docString;
  if (init.metadataProps) p.metadataProps = init.metadataProps;
  if (sink && p.rawData && p.rawData.length >= EXTERNAL_THRESHOLD_BYTES) {
    const pad = (64 - (sink.offset % 64)) % 64;
    if (pad) {
      sink.chunks.push(new Uint8Array(pad));
      sink.offset += pad;
    }
    p.externalData = [
      { key: 'location', value: basename(sink.file) },
      { key: 'offset', value: String(sink.offset) },
      { key: 'length', value: String(p.rawData.length) },
    ];
    p.dataLocation = 1;
    sink.chunks.push(p.rawData);
    sink.offset += p.rawData.length;
    delete p.rawData;
  }
  return p;
}

function graphToProto(g: Graph, sink?: ExternalSink): GraphProto {
  const vi = (v: ValueInfo) => ({ name: v.name, type: v.type, docString: v.docString, metadataProps: v.metadataProps });
  return {
    name: g.name,
    node: g.nodes.map((n) => ({
      input: n.inputs,
      output: n.outputs,
      name: n.name || undefined,
      opType: n.opType,
      domain: n.domain || undefined,
      attribute: n.attributes,
      docString: n.docString,
      metadataProps: n.metadataProps,
    })),
    initializer: [...g.initializers.values()].map((i) => initializerProto(i, sink)),
    input: g.inputs.map(vi),
    output: g.outputs.map(vi),
    valueInfo: g.valueInfo.map(vi),
    docString: g.docString,
    ...g.passthrough,
  };
}

function modelToProto(m: Model, sink?: ExternalSink): ModelProto {
  return {
    ...m.passthrough,
    irVersion: Long.fromNumber(m.irVersion),
    opsetImport: m.opsetImports.map((o) => ({ domain: o.domain, version: Long.fromNumber(o.version) })),
    graph: graphToProto(m.graph, sink),
  };
}

/** Encode a model as ONNX bytes, all tensor data inline. */
export function encodeModel(m: Model): Uint8Array {
  return ModelProtoType.encode(ModelProtoType.fromObject(modelToProto(m))).finish();
}

function initializerBytes(m: Model): number {
  let total = 0;
  for (const i of m.graph.initializers.values()) total += i.tensor?.data.byteLength ?? 0;
  return total;
}

export interface WriteModelOptions {
  /** Store tensors of 1 KiB or more in a side file `<model>.data` (default: only when the model exceeds 1.5 GiB). */
  externalData?: boolean;
}

/**
 * Write a model to `path` atomically. Refuses to overwrite the file the model was read from only if
 * the caller says so; scalpel's commands check that themselves.
 *
 * @example writeModel(readModel('in.onnx'), 'out.onnx')
 */
export function writeModel(m: Model, path: string, opts: WriteModelOptions = {}): void {
  const external = opts.externalData ?? initializerBytes(m) > AUTO_EXTERNAL_BYTES;
  if (!external) {
    writeFileAtomicSync(path, [encodeModel(m)]);
    return;
  }
  const sink: ExternalSink = { file: `${basename(path)}.data`, chunks: [], offset: 0 };
  const proto = modelToProto(m, sink);
  const dataPath = join(dirname(path), sink.file);
  writeFileAtomicSync(dataPath, sink.chunks);
  writeFileAtomicSync(path, [ModelProtoType.encode(ModelProtoType.fromObject(proto)).finish()]);
}

/** Whether two paths name the same file: the same resolved path, or (through links) the same device and inode. */
export function samePath(a: string, b: string): boolean {
  if (resolve(a) === resolve(b)) return true;
  if (!existsSync(a) || !existsSync(b)) return false;
  const sa = statSync(a);
  const sb = statSync(b);
  return sa.dev === sb.dev && sa.ino === sb.ino;
}
