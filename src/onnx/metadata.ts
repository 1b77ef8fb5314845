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
