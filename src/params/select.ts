// Which parameters to corrupt (selectors), and how to split them into groups for vulnerability maps.
import { describeParams, type ParamInfo, type ParamKind } from './describe.js';
import type { Model } from '../onnx/ir.js';

/** A subset of a model's parameters; every given field must match (an empty selector takes every trainable parameter). */
export interface ParamSelector {
  /** A glob on the parameter name (`*` any run of characters, `?` one; `layer1.*`) or a regular expression written `/…/`. */
  pattern?: string;
  /** Parameter kinds (as describeParams classifies them). */
  kinds?: ParamKind[];
  /** Layer names (the parameter name up to its last '.'), or globs over them. */
  layers?: string[];
  /** Leave out BatchNormalization running statistics, which training does not change (default true). */
  trainableOnly?: boolean;
}

/** How to split the selected parameters into groups: by kind, by layer, one group per tensor, or named groups of globs. */
export type Grouping = 'kind' | 'layer' | 'tensor' | Record<string, string[]>;

export const PARAM_KINDS: readonly ParamKind[] = ['conv', 'fc', 'embedding', 'attention', 'batch-norm', 'layer-norm', 'bias', 'recurrent', 'other'];

/** Other names accepted for kinds in selector text. */
const KIND_ALIASES: Record<string, ParamKind> = {
  bn: 'batch-norm',
  batchnorm: 'batch-norm',
  ln: 'layer-norm',
  layernorm: 'layer-norm',
  linear: 'fc',
  dense: 'fc',
  embed: 'embedding',
  embeddings: 'embedding',
  attn: 'attention',
  rnn: 'recurrent',
  gru: 'recurrent',
  lstm: 'recurrent',
};

/** A glob (`*`, `?`) or `/regex/` as an anchored RegExp. */
export function globRegExp(glob: string): RegExp {
  if (glob.length >= 2 && glob.startsWith('/') && glob.endsWith('/')) {
    try {
      return new RegExp(glob.slice(1, -1));
    } catch (e) {
      throw new Error(`selector ${glob} is not a valid regular expression: ${(e as Error).message}`);
    }
  }
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*+/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

function kindOf(word: string): ParamKind {
  const w = word.trim().toLowerCase();
  if ((PARAM_KINDS as readonly string[]).includes(w)) return w as ParamKind;
  if (KIND_ALIASES[w]) return KIND_ALIASES[w];
  throw new Error(`unknown parameter kind '${word}'; kinds are ${PARAM_KINDS.join(', ')} (also bn, ln, linear, embed, attn)`);
}

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/**
 * Parse a selector from the command line. Clauses joined by `;` must all hold:
 * `kind:conv,bias` (any of these kinds), `layer:layer1.0.conv1,fc` (any of these layers, globs allowed),
 * `/regex/` (on the name), a glob such as `layer1.*` or `*.weight`, or `all` (every trainable parameter).
 *
 * @example
 * parseSelector('kind:conv;layer1.*'); // { kinds: ['conv'], pattern: 'layer1.*' }
 */
export function parseSelector(text: string): ParamSelector {
  const sel: ParamSelector = {};
  const t = text.trim();
  if (t === '') throw new Error('empty parameter selector');
  // A /regex/ may itself contain ';', so take it whole.
  const clauses =
    t.startsWith('/') && t.endsWith('/')
      ? [t]
      : t
          .split(';')
          .map((c) => c.trim())
          .filter(Boolean);
  for (const c of clauses) {
    if (c === 'all' || c === '*') continue;
    if (c.startsWith('kind:') || c.startsWith('kinds:')) {
      const kinds = list(c.slice(c.indexOf(':') + 1)).map(kindOf);
      if (kinds.length === 0) throw new Error(`selector '${text}': give kinds after 'kind:', e.g. kind:conv,bias`);
      sel.kinds = [...new Set([...(sel.kinds ?? []), ...kinds])];
    } else if (c.startsWith('layer:') || c.startsWith('layers:')) {
      const layers = list(c.slice(c.indexOf(':') + 1));
      if (layers.length === 0) throw new Error(`selector '${text}': give layer names after 'layer:', e.g. layer:conv1,fc1`);
      sel.layers = [...(sel.layers ?? []), ...layers];
    } else {
      if (sel.pattern !== undefined) throw new Error(`selector '${text}' has two name patterns; join them in one /regex/`);
      globRegExp(c); // reject a bad regex now
      sel.pattern = c;
    }
  }
  return sel;
}

/**
 * A selector as the text parseSelector reads back.
 *
 * @example formatSelector({ kinds: ['conv'] }); // 'kind:conv'
 */
export function formatSelector(sel: ParamSelector = {}): string {
  const parts: string[] = [];
  if (sel.kinds?.length) parts.push(`kind:${sel.kinds.join(',')}`);
  if (sel.layers?.length) parts.push(`layer:${sel.layers.join(',')}`);
  if (sel.pattern !== undefined) parts.push(sel.pattern);
  const text = parts.join(';') || 'all';
  return sel.trainableOnly === false ? `${text} (running statistics included)` : text;
}

function summarise(all: ParamInfo[]): string {
  const shown = all
    .slice(0, 16)
    .map((p) => `${p.name} (${p.kind})`)
    .join(', ');
  return all.length > 16 ? `${shown}, … (${all.length} in all)` : shown;
}

/**
 * The parameters a selector picks, in graph order (the order of the ops that use them, input to output).
 * Parameters no op uses are left out. Throws `selector '…' matches no parameter; the model has: …` when none match.
 *
 * @example
 * selectParams(buildModel('resnet20'), { kinds: ['batch-norm'] }).length; // 42: weights and biases of 21 BN layers
 */
export function selectParams(model: Model, sel: ParamSelector = {}): ParamInfo[] {
  const all = describeParams(model).filter((p) => p.order >= 0 && p.size > 0);
  if (all.length === 0) throw new Error('the model has no floating-point parameters');
  const re = sel.pattern !== undefined ? globRegExp(sel.pattern) : undefined;
  const layerRes = sel.layers?.map(globRegExp);
  const chosen = all.filter(
    (p) =>
      (sel.trainableOnly === false || p.trainable) &&
      (!sel.kinds?.length || sel.kinds.includes(p.kind)) &&
      (!layerRes || layerRes.some((r) => r.test(p.layer))) &&
      (!re || re.test(p.name)),
  );
  if (chosen.length === 0)
    throw new Error(`selector '${formatSelector({ ...sel, trainableOnly: undefined })}' matches no parameter; the model has: ${summarise(all)}`);
  return stableGraphOrder(chosen);
}

function stableGraphOrder(ps: ParamInfo[]): ParamInfo[] {
  return ps
    .map((p, i) => ({ p, i }))
    .sort((a, b) => a.p.order - b.p.order || a.i - b.i)
    .map((x) => x.p);
}

/**
 * Parse a grouping from the command line: `kind`, `layer`, `tensor`, `prefix:N` (names cut after their N-th '.',
 * e.g. `prefix:1` groups ResNet blocks layer1/layer2/layer3), or named glob groups `early=conv1.*,bn1.*;late=fc.*`.
 *
 * @example parseGrouping('kind'); // 'kind'
 */
export function parseGrouping(text: string, model?: Model): Grouping {
  const t = text.trim();
  if (t === 'kind' || t === 'layer' || t === 'tensor') return t;
  const m = /^prefix:(\d+)$/.exec(t);
  if (m) {
    const depth = Number(m[1]);
    if (depth < 1) throw new Error(`grouping '${text}': the prefix depth must be at least 1`);
    if (!model) throw new Error(`grouping '${text}' needs the model`);
    return prefixGroups(model, depth);
  }
  if (t.includes('=')) {
    const groups: Record<string, string[]> = {};
    for (const part of t
      .split(';')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const eq = part.indexOf('=');
      const name = part.slice(0, eq).trim();
      const globs = list(part.slice(eq + 1));
      if (eq < 1 || !name || globs.length === 0) throw new Error(`grouping '${text}': write named groups as name=glob,glob;name2=glob`);
      if (groups[name]) throw new Error(`grouping '${text}' names group '${name}' twice`);
      for (const g of globs) globRegExp(g);
      groups[name] = globs;
    }
    return groups;
  }
  throw new Error(`unknown grouping '${text}'; use kind, layer, tensor, prefix:N or name=glob,…;name2=glob,…`);
}

/** Named glob groups from the first `depth` dot-separated components of each parameter name. */
export function prefixGroups(model: Model, depth: number): Record<string, string[]> {
  const groups: Record<string, string[]> = {};
  for (const p of selectParams(model, { trainableOnly: false })) {
    const parts = p.name.split('.');
    const key = parts.length > depth ? parts.slice(0, depth).join('.') : p.layer;
    const glob = parts.length > depth ? `${key}.*` : p.name;
    const g = (groups[key] ??= []);
    if (!g.includes(glob)) g.push(glob);
  }
  return groups;
}

/**
 * Split the parameters a selector picks into groups, in graph order from input to output (groups ordered by
 * their first parameter). With named glob groups a parameter may fall in several groups; one in none is left out;
 * a group that matches nothing is an error.
 *
 * @example
 * groupParams(buildModel('lenet5'), 'kind').map((g) => g.group); // ['conv', 'bias', 'fc']
 */
export function groupParams(model: Model, by: Grouping, sel?: ParamSelector): { group: string; params: ParamInfo[] }[] {
  const ps = selectParams(model, sel);
  const out = new Map<string, ParamInfo[]>();
  const add = (g: string, p: ParamInfo) => {
    const l = out.get(g);
    if (l) l.push(p);
    else out.set(g, [p]);
  };
  if (by === 'kind') for (const p of ps) add(p.kind, p);
  else if (by === 'layer') for (const p of ps) add(p.layer, p);
  else if (by === 'tensor') for (const p of ps) add(p.name, p);
  else {
    const compiled = Object.entries(by).map(([g, globs]) => [g, globs.map(globRegExp)] as const);
    for (const [g] of compiled) out.set(g, []);
    for (const p of ps) for (const [g, res] of compiled) if (res.some((r) => r.test(p.name))) add(g, p);
    const empty = [...out].filter(([, l]) => l.length === 0).map(([g]) => g);
    if (empty.length)
      throw new Error(
        `group${empty.length > 1 ? 's' : ''} ${empty.map((g) => `'${g}'`).join(', ')} match${empty.length > 1 ? '' : 'es'} no selected parameter; the selection has: ${summarise(ps)}`,
      );
  }
  const position = new Map(ps.map((p, i) => [p.name, i]));
  return [...out].map(([group, params]) => ({ group, params })).sort((a, b) => position.get(a.params[0].name)! - position.get(b.params[0].name)!);
}
