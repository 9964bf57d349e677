// An independent, deliberately plain JSON Schema (2020-12) validator for the keywords the
// workflow schema uses, written from the specification's wording rather than from
// src/pipeline/schema.ts: the test that checks the shipped schema and the library's checker agree
// on good and bad workflows uses it as what an editor would conclude from the schema alone.
type S = Record<string, unknown>;

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as S);
  const kb = Object.keys(b as S);
  return ka.length === kb.length && ka.every((k) => deepEqual((a as S)[k], (b as S)[k]));
}

function isType(v: unknown, t: string): boolean {
  switch (t) {
    case 'null':
      return v === null;
    case 'boolean':
      return typeof v === 'boolean';
    case 'string':
      return typeof v === 'string';
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'array':
      return Array.isArray(v);
    case 'object':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
  }
  throw new Error(`unknown type ${t}`);
}

/** True when `v` is valid against `schema` (`root` holds `$defs`). */
export function valid(v: unknown, schema: unknown, root: S = schema as S): boolean {
  if (schema === true) return true;
  if (schema === false) return false;
  const s = schema as S;
  if (typeof s.$ref === 'string') {
    const name = /^#\/\$defs\/(.+)$/.exec(s.$ref)![1];
    if (!valid(v, (root.$defs as S)[name], root)) return false;
  }
  if (s.type !== undefined && !(Array.isArray(s.type) ? s.type : [s.type]).some((t) => isType(v, t as string))) return false;
  if ('const' in s && !deepEqual(v, s.const)) return false;
  if (Array.isArray(s.enum) && !s.enum.some((e) => deepEqual(e, v))) return false;
  if (typeof v === 'string') {
    if (typeof s.minLength === 'number' && [...v].length < s.minLength) return false;
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(v)) return false;
  }
  if (typeof v === 'number') {
    if (typeof s.minimum === 'number' && v < s.minimum) return false;
    if (typeof s.maximum === 'number' && v > s.maximum) return false;
    if (typeof s.exclusiveMinimum === 'number' && v <= s.exclusiveMinimum) return false;
  }
  if (Array.isArray(v)) {
    if (typeof s.minItems === 'number' && v.length < s.minItems) return false;
    if (typeof s.maxItems === 'number' && v.length > s.maxItems) return false;
    if (s.items !== undefined && !v.every((x) => valid(x, s.items, root))) return false;
    if (s.uniqueItems === true && v.some((x, i) => v.findIndex((y) => deepEqual(x, y)) !== i)) return false;
  }
  if (isType(v, 'object')) {
    const o = v as S;
    const props = (s.properties ?? {}) as S;
    if (Array.isArray(s.required) && !s.required.every((k) => Object.hasOwn(o, k as string))) return false;
    if (typeof s.minProperties === 'number' && Object.keys(o).length < s.minProperties) return false;
    for (const [k, x] of Object.entries(o)) {
      if (s.propertyNames !== undefined && !valid(k, s.propertyNames, root)) return false;
      if (Object.hasOwn(props, k)) {
        if (!valid(x, props[k], root)) return false;
      } else if (s.additionalProperties !== undefined && !valid(x, s.additionalProperties, root)) return false;
    }
  }
  if (Array.isArray(s.allOf) && !s.allOf.every((sub) => valid(v, sub, root))) return false;
  if (s.not !== undefined && valid(v, s.not, root)) return false;
  if (s.if !== undefined) {
    const branch = valid(v, s.if, root) ? s.then : s.else;
    if (branch !== undefined && !valid(v, branch, root)) return false;
  }
  return true;
}
