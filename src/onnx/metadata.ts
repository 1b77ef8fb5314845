// Model metadata_props: what scalpel records with a model (normalisation, training command, …).
import type { Model } from './ir.js';

type Entry = { key?: string; value?: string };

export function getMetadata(model: Model, key: string): string | undefined {
  const props = (model.passthrough.metadataProps as Entry[] | undefined) ?? [];
  return props.find((p) => p.key === key)?.value;
}

/** Set (or replace) metadata entries on a model, in place. */
export function setMetadata(model: Model, entries: Record<string, string>): void {
  const props = [...((model.passthrough.metadataProps as Entry[] | undefined) ?? [])].filter((p) => !(p.key! in entries));
  for (const [key, value] of Object.entries(entries)) props.push({ key, value });
  model.passthrough = { ...model.passthrough, metadataProps: props };
}

/** Every metadata entry of a model, as a plain object. */
export function allMetadata(model: Model): Record<string, string> {
  const props = (model.passthrough.metadataProps as Entry[] | undefined) ?? [];
  return Object.fromEntries(props.filter((p) => p.key !== undefined).map((p) => [p.key!, p.value ?? '']));
}

/** Set metadata entries on a model, in place; an entry whose value is null is removed. */
export function updateMetadata(model: Model, entries: Record<string, string | null>): void {
  const props = ((model.passthrough.metadataProps as Entry[] | undefined) ?? []).filter((p) => !(p.key! in entries));
  for (const [key, value] of Object.entries(entries)) if (value !== null) props.push({ key, value });
  model.passthrough = { ...model.passthrough, metadataProps: props };
}
