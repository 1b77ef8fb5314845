// The table of surgery methods (docs/methods.md, "inject"): each entry one file under methods/, carrying its name, help, variants,
// settings with their defaults, and its implementation. Parsing `--method`, running a method and the command's help
// are all read from here.
import type { MethodInputs, MethodResult, MethodSettings, SettingSpec, SurgeryMethod } from './method.js';
import { constrained } from './methods/constrained.js';
import { dynamic } from './methods/dynamic.js';
import { finetune } from './methods/finetune.js';
import { lagrange } from './methods/lagrange.js';
import { select } from './methods/select.js';

export type { MethodInputs, MethodResult, MethodSettings, SettingSpec, SurgeryMethod } from './method.js';

/** Every method, in the order the help lists them; the first is the default. */
export const SURGERY_METHODS: readonly SurgeryMethod[] = [dynamic, constrained, lagrange, select, finetune];

/** A method as runs name it: `dynamic`, `select:random`, `constrained:fisher`, … (a method with variants spells its variant out, except a `bare` default). */
export type MethodChoice = string;

/**
 * The method of a name (without its variant); throws listing the names.
 *
 * @example surgeryMethod('select').variants!.names; // ['random', 'grad', 'delta', 'fisher']
 */
export function surgeryMethod(name: string): SurgeryMethod {
  const m = SURGERY_METHODS.find((x) => x.name === name);
  if (!m) throw new Error(`unknown method '${name}'; use ${methodNames().join(', ')}`);
  return m;
}

/**
 * Every `NAME` and `NAME:VARIANT` the table accepts.
 *
 * @example methodNames().includes('constrained:fisher'); // true
 */
export function methodNames(): string[] {
  return SURGERY_METHODS.flatMap((m) => [m.name, ...(m.variants?.names.map((v) => `${m.name}:${v}`) ?? [])]);
}

/**
 * Parse a method name: `NAME` or `NAME:VARIANT` from the table. A method with variants gets its default one, or
 * `by` for select (the `--by` flag).
 *
 * @example parseMethod('select', 'random'); // 'select:random'
 * @example parseMethod('dynamic:fisher'); // 'dynamic:fisher' (and 'dynamic' is dynamic:delta)
 */
export function parseMethod(text: string, by?: string): MethodChoice {
  const [name, sub, ...rest] = text.trim().split(/[:=]/);
  const m = surgeryMethod(name);
  if (rest.length) throw new Error(`method '${text}': one variant at most`);
  if (!m.variants) {
    if (sub !== undefined) throw new Error(`method '${text}': ${m.name} takes no variant`);
    return m.name;
  }
  const v = sub ?? (m.name === 'select' ? by : undefined) ?? m.variants.default;
  if (!m.variants.names.includes(v)) throw new Error(`method '${text}': ${m.name} by ${m.variants.names.join(', ')}, not '${v}'`);
  return m.variants.bare && v === m.variants.default ? m.name : `${m.name}:${v}`;
}

/**
 * The method and variant of a parsed choice.
 *
 * @example splitChoice('dynamic').variant; // 'delta'
 */
export function splitChoice(choice: MethodChoice): { method: SurgeryMethod; variant?: string } {
  const [name, variant] = choice.split(':');
  const method = surgeryMethod(name);
  return { method, variant: variant ?? method.variants?.default };
}

/**
 * Run a parsed method choice.
 *
 * @example const r = await runMethod('dynamic:fisher', { ctx, budget: 100, settings: {}, pattern, clean, cleanWeight: 2 });
 */
export function runMethod(choice: MethodChoice, inputs: Omit<MethodInputs, 'variant'>): Promise<MethodResult> {
  const { method, variant } = splitChoice(choice);
  return method.run({ ...inputs, variant });
}

/** A setting's flag and the methods that read it, each with its own help and default (for the command's options). */
export interface SettingFlag {
  key: SettingSpec['key'];
  flag: string;
  integer: boolean;
  min?: number;
  max?: number;
  /** 'dynamic: steps between prunings (10); lagrange: steps between λ updates (5)'. */
  description: string;
}

/**
 * The flags of every method's settings, one per flag, in table order.
 *
 * @example settingFlags().find((f) => f.key === 'klBound')!.flag; // '--kl-bound <nats>'
 */
export function settingFlags(): SettingFlag[] {
  const out = new Map<string, SettingFlag & { parts: string[] }>();
  for (const m of SURGERY_METHODS) {
    for (const s of m.settings) {
      let f = out.get(s.flag);
      if (!f) {
        f = { key: s.key, flag: s.flag, integer: !!s.integer, min: s.min, max: s.max, description: '', parts: [] };
        out.set(s.flag, f);
      }
      const part = `${s.help} (${s.default})`;
      const same = f.parts.findIndex((p) => p.endsWith(`: ${part}`));
      if (same >= 0) f.parts[same] = `${f.parts[same].split(':')[0]}, ${m.name}: ${part}`;
      else f.parts.push(`${m.name}: ${part}`);
    }
  }
  return [...out.values()].map(({ parts, ...f }) => ({ ...f, description: parts.join('; ') }));
}

/**
 * The methods' paragraphs of `scalpel inject --help`, generated from the table: `{key}` becomes the setting's flag
 * and default, e.g. `--every (10)`.
 *
 * @example methodHelp().startsWith('Methods (--method'); // true
 */
export function methodHelp(): string {
  const paras = SURGERY_METHODS.map((m, i) => {
    const text = m.help.replace(/\{(\w+)\}/g, (all, key: string) => {
      const s = m.settings.find((x) => x.key === key);
      return s ? `${s.flag.split(' ')[0]} (${s.default})` : all;
    });
    return `${m.name}${i === 0 ? ' (the default)' : ''}: ${text}`;
  });
  return ['Methods (--method NAME or NAME:VARIANT; --sweep takes a list of them):', ...paras].join('\n\n');
}

/** The default method. */
export const DEFAULT_METHOD: MethodChoice = parseMethod(SURGERY_METHODS[0].name);
