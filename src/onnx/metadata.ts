// Model-level metadata of a serialized ModelProto: producer name and version, doc string and
// metadata_props. Everything else (the graph with its weights) is copied by reference.
import { CacheError } from '../errors.js';
import { ModelField, readModel } from './graph.js';
import { corrupt, fields, PieceWriter, rebuild, utf8, Wire, type Pieces } from './wire.js';

export interface ModelMetadata {
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  /** metadata_props entries to set (an existing entry with the same key is replaced). */
  props?: Readonly<Record<string, string>>;
  /** Drop every existing metadata_props entry first. Default false. */
  replaceProps?: boolean;
}

interface Prop {
  key: string;
  value: string;
  /** Payload offset of the entry in the model. */
  start: number;
}

function props(model: Uint8Array): Prop[] {
  const out: Prop[] = [];
  for (const f of fields(model, 0, model.byteLength)) {
    if (f.no !== ModelField.metadataProps) continue;
    if (f.wire !== Wire.Bytes) corrupt('metadata_props entry is not a message');
    const p: Prop = { key: '', value: '', start: f.start };
    for (const g of fields(model, f.start, f.end)) {
      if (g.wire !== Wire.Bytes) continue;
      if (g.no === 1) p.key = utf8(model, g.start, g.end);
      else if (g.no === 2) p.value = utf8(model, g.start, g.end);
    }
    out.push(p);
  }
  return out;
}

/** The metadata_props of a model, in file order. */
export function readMetadataProps(model: Uint8Array): [string, string][] {
  return props(model).map((p) => [p.key, p.value]);
}

/**
 * The model with `meta` applied. New props are written in key order, so the same settings always
 * give the same bytes. The input must be a model with a graph (ERR_CORRUPT otherwise).
 */
export function setMetadata(model: Uint8Array, meta: ModelMetadata): Pieces {
  readModel(model); // refuse what is not a model before writing anything
  const keys = Object.keys(meta.props ?? {}).sort();
  for (const k of keys) if (k.length === 0) throw new CacheError('ERR_BAD_INPUT', 'metadata_props keys must be non-empty');
  const replaced = new Set(keys);
  const dropped = new Set(props(model).filter((p) => meta.replaceProps || replaced.has(p.key)).map((p) => p.start));
  return rebuild(
    model,
    0,
    model.byteLength,
    (f) =>
      (f.no === ModelField.producerName && meta.producerName !== undefined) ||
      (f.no === ModelField.producerVersion && meta.producerVersion !== undefined) ||
      (f.no === ModelField.docString && meta.docString !== undefined) ||
      (f.no === ModelField.metadataProps && dropped.has(f.start)),
    (w) => {
      if (meta.producerName !== undefined) w.string(ModelField.producerName, meta.producerName);
      if (meta.producerVersion !== undefined) w.string(ModelField.producerVersion, meta.producerVersion);
      if (meta.docString !== undefined) w.string(ModelField.docString, meta.docString);
      for (const k of keys) w.field(ModelField.metadataProps, new PieceWriter().string(1, k).string(2, meta.props![k]).pieces());
    },
  );
}
