// Reading and making ONNX attributes.
import Long from 'long';
import type { HostTensor } from '../tensor/host-tensor.js';
import type { Node } from './ir.js';
import { AttrType, type AttributeProto, type GraphProto, toNumber } from './proto.js';
import { tensorFromProto, tensorToProto } from './tensor-proto.js';

/** A float attribute value; plain integers passed to the builder become INT attributes. */
export interface FloatAttr {
  float: number;
}
/** A list-of-floats attribute value. */
export interface FloatsAttr {
  floats: number[];
}
export type AttrValue = number | number[] | string | string[] | HostTensor | FloatAttr | FloatsAttr | GraphProto;

/** Mark a number as a FLOAT attribute: `{ alpha: float(0.2) }`. */
export function float(v: number): FloatAttr {
  return { float: v };
}
export function floats(v: number[]): FloatsAttr {
  return { floats: v };
}

/** Build an AttributeProto. Integers and integer lists become INT(S); non-integral numbers FLOAT(S). */
export function makeAttribute(name: string, v: AttrValue): AttributeProto {
  const enc = (s: string) => new TextEncoder().encode(s);
  if (typeof v === 'number') {
    return Number.isInteger(v) ? { name, type: AttrType.INT, i: Long.fromNumber(v) } : { name, type: AttrType.FLOAT, f: v };
  }
  if (typeof v === 'string') return { name, type: AttrType.STRING, s: enc(v) };
  if (Array.isArray(v)) {
    if (v.length > 0 && typeof v[0] === 'string') return { name, type: AttrType.STRINGS, strings: (v as string[]).map(enc) };
    const nums = v as number[];
    if (nums.every(Number.isInteger)) return { name, type: AttrType.INTS, ints: nums.map((x) => Long.fromNumber(x)) };
    return { name, type: AttrType.FLOATS, floats: nums };
  }
  if ('float' in v) return { name, type: AttrType.FLOAT, f: v.float };
  if ('floats' in v) return { name, type: AttrType.FLOATS, floats: v.floats };
  if ('dtype' in v) return { name, type: AttrType.TENSOR, t: tensorToProto('', v as HostTensor) };
  return { name, type: AttrType.GRAPH, g: v as GraphProto };
}

export function makeAttributes(attrs: Record<string, AttrValue | undefined> = {}): AttributeProto[] {
  return Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => makeAttribute(k, v!));
}

function find(node: Node, name: string): AttributeProto | undefined {
  return node.attributes.find((a) => a.name === name);
}

export function hasAttr(node: Node, name: string): boolean {
  return find(node, name) !== undefined;
}

/** An INT attribute, or `dflt`. */
export function attrInt(node: Node, name: string, dflt: number): number;
export function attrInt(node: Node, name: string): number | undefined;
export function attrInt(node: Node, name: string, dflt?: number): number | undefined {
  const a = find(node, name);
  return a ? toNumber(a.i) : dflt;
}

/** A FLOAT attribute, or `dflt`. */
export function attrFloat(node: Node, name: string, dflt: number): number {
  const a = find(node, name);
  return a ? (a.f ?? 0) : dflt;
}

/** An INTS attribute, or `dflt`. */
export function attrInts(node: Node, name: string, dflt: number[]): number[];
export function attrInts(node: Node, name: string): number[] | undefined;
export function attrInts(node: Node, name: string, dflt?: number[]): number[] | undefined {
  const a = find(node, name);
  return a ? (a.ints ?? []).map(toNumber) : dflt;
}

export function attrFloats(node: Node, name: string, dflt: number[]): number[] {
  const a = find(node, name);
  return a ? [...(a.floats ?? [])] : dflt;
}

export function attrString(node: Node, name: string, dflt: string): string {
  const a = find(node, name);
  return a?.s ? new TextDecoder().decode(a.s) : dflt;
}

export function attrTensor(node: Node, name: string): HostTensor | undefined {
  const a = find(node, name);
  return a?.t ? tensorFromProto(a.t) : undefined;
}
