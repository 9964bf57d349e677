// A checker for the subset of JSON Schema that the workflow schema and the built-in passes'
// config schemas are written in, so that one schema both ships to editors and validates: the
// first problem found, in document order, as one message naming the field path
// (`passes[1].config.level: expected one of ...`). Keywords outside the subset are refused when
// the schema is checked, so a schema cannot say more than the checker enforces.

/** A JSON Schema (the subset this module implements; `errorMessage` as VS Code reads it). */
export interface Schema {
  $schema?: string;
  $id?: string;
  $ref?: string;
  $defs?: Record<string, Schema>;
  title?: string;
  description?: string;
  markdownDescription?: string;
  default?: unknown;
  examples?: unknown[];
  /** The "expected ..." text of a failure at this schema. */
  errorMessage?: string;
  type?: JsonType | JsonType[];
  enum?: readonly unknown[];
  const?: unknown;
  properties?: Record<string, Schema>;
  required?: readonly string[];
  additionalProperties?: boolean | Schema;
  propertyNames?: Schema;
  minProperties?: number;
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  allOf?: Schema[];
  not?: Schema;
  if?: Schema;
  then?: Schema;
  else?: Schema;
}

export type JsonType = 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | 'null';

/** A value that does not conform: where, and what was expected. */
export interface SchemaProblem {
  path: string;
  message: string;
}

const KEYWORDS = new Set([
  '$schema', '$id', '$ref', '$defs', 'title', 'description', 'markdownDescription', 'default', 'examples', 'errorMessage',
  'type', 'enum', 'const', 'properties', 'required', 'additionalProperties', 'propertyNames', 'minProperties', 'items', 'minItems', 'maxItems',
  'uniqueItems', 'minLength', 'pattern', 'minimum', 'maximum', 'exclusiveMinimum', 'allOf', 'not', 'if', 'then', 'else',
]);

/** Path of a member: `a.b`, `a["odd key"]`, `a[3]`. */
export function memberPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  const name = /^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key);
  if (!parent) return name;
  return name.startsWith('"') ? `${parent}[${name}]` : `${parent}.${name}`;
}

function jsonType(v: unknown): JsonType | 'other' {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'number':
      return Number.isInteger(v) ? 'integer' : 'number';
    case 'boolean':
      return 'boolean';
    case 'object':
      return 'object';
    default:
      return 'other';
  }
}

/** How a received value is shown in messages. */
export function describeValue(v: unknown): string {
  const t = jsonType(v);
  if (t === 'string') {
    const s = v as string;
    return JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s);
  }
  if (t === 'object') return 'an object';
  if (t === 'array') return `an array of ${(v as unknown[]).length}`;
  return String(v);
}

const TYPE_WORDS: Record<JsonType, string> = {
  object: 'an object', array: 'an array', string: 'a string', number: 'a number', integer: 'an integer', boolean: 'true or false', null: 'null',
};

function typeMatches(v: unknown, t: JsonType): boolean {
  const actual = jsonType(v);
  return actual === t || (t === 'number' && actual === 'integer');
}

function equal(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

class Checker {
  constructor(readonly root: Schema) {}

  resolve(s: Schema): Schema {
    if (!s.$ref) return s;
    const m = /^#\/\$defs\/([^/]+)$/.exec(s.$ref);
    const target = m ? this.root.$defs?.[m[1]] : undefined;
    if (!target) throw new Error(`schema: unresolvable $ref ${s.$ref}`);
    return target;
  }

  fail(s: Schema, path: string, expected: string, v: unknown, received = true): SchemaProblem {
    return { path, message: `expected ${s.errorMessage ?? expected}${received ? ` but received ${describeValue(v)}` : ''}` };
  }

  check(v: unknown, schema: Schema, path: string): SchemaProblem | undefined {
    const s = this.resolve(schema);
    if (s.type !== undefined) {
      const types = Array.isArray(s.type) ? s.type : [s.type];
      if (!types.some((t) => typeMatches(v, t))) return this.fail(s, path, types.map((t) => TYPE_WORDS[t]).join(' or '), v);
    }
    if (s.const !== undefined && !equal(v, s.const)) return this.fail(s, path, JSON.stringify(s.const), v);
    if (s.enum && !s.enum.some((e) => equal(e, v))) return this.fail(s, path, `one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}`, v);
    const p = this.checkString(v, s, path) ?? this.checkNumber(v, s, path) ?? this.checkArray(v, s, path) ?? this.checkObject(v, s, path);
    if (p) return p;
    for (const sub of s.allOf ?? []) {
      const q = this.check(v, sub, path);
      if (q) return q;
    }
    if (s.not && !this.check(v, s.not, path)) return this.fail(s, path, 'something else', v);
    if (s.if) {
      const branch = this.check(v, s.if, path) ? s.else : s.then;
      if (branch) return this.check(v, branch, path);
    }
    return undefined;
  }

  checkString(v: unknown, s: Schema, path: string): SchemaProblem | undefined {
    if (typeof v !== 'string') return undefined;
    if (s.minLength !== undefined && v.length < s.minLength) return this.fail(s, path, s.minLength === 1 ? 'a non-empty string' : `at least ${s.minLength} characters`, v);
    if (s.pattern !== undefined && !new RegExp(s.pattern, 'u').test(v)) return this.fail(s, path, `a string matching ${s.pattern}`, v);
    return undefined;
  }

  checkNumber(v: unknown, s: Schema, path: string): SchemaProblem | undefined {
    if (typeof v !== 'number') return undefined;
    if (s.minimum !== undefined && v < s.minimum) return this.fail(s, path, `a number >= ${s.minimum}`, v);
    if (s.exclusiveMinimum !== undefined && v <= s.exclusiveMinimum) return this.fail(s, path, `a number > ${s.exclusiveMinimum}`, v);
    if (s.maximum !== undefined && v > s.maximum) return this.fail(s, path, `a number <= ${s.maximum}`, v);
    return undefined;
  }

  checkArray(v: unknown, s: Schema, path: string): SchemaProblem | undefined {
    if (!Array.isArray(v)) return undefined;
    if (s.minItems !== undefined && v.length < s.minItems) return this.fail(s, path, `at least ${s.minItems} item${s.minItems === 1 ? '' : 's'}`, v);
    if (s.maxItems !== undefined && v.length > s.maxItems) return this.fail(s, path, `at most ${s.maxItems} item${s.maxItems === 1 ? '' : 's'}`, v);
    for (let i = 0; i < v.length; i++) {
      if (s.items) {
        const p = this.check(v[i], s.items, memberPath(path, i));
        if (p) return p;
      }
      if (s.uniqueItems && v.findIndex((x) => equal(x, v[i])) < i) return { path: memberPath(path, i), message: `duplicate of an earlier item (${describeValue(v[i])})` };
    }
    return undefined;
  }

  checkObject(v: unknown, s: Schema, path: string): SchemaProblem | undefined {
    if (jsonType(v) !== 'object') return undefined;
    const obj = v as Record<string, unknown>;
    for (const name of s.required ?? []) {
      if (!Object.hasOwn(obj, name)) return { path: memberPath(path, name), message: `missing; ${s.properties?.[name]?.errorMessage ?? describeRequired(this.resolve(s.properties?.[name] ?? {}))} is required` };
    }
    const keys = Object.keys(obj);
    if (s.minProperties !== undefined && keys.length < s.minProperties) return this.fail(s, path, `an object with at least ${s.minProperties} field${s.minProperties === 1 ? '' : 's'}`, v, false);
    for (const key of keys) {
      if (s.propertyNames) {
        const bad = this.check(key, s.propertyNames, memberPath(path, key));
        if (bad) return { path: bad.path, message: `bad field name: ${bad.message}` };
      }
      const known = s.properties?.[key];
      const sub = known ?? (typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined);
      if (!sub && s.additionalProperties === false) {
        const names = Object.keys(s.properties ?? {});
        return { path: memberPath(path, key), message: `unknown field${names.length ? `; expected one of ${names.map((n) => JSON.stringify(n)).join(', ')}` : ''}` };
      }
      if (sub) {
        const p = this.check(obj[key], sub, memberPath(path, key));
        if (p) return p;
      }
    }
    return undefined;
  }
}

function describeRequired(s: Schema): string {
  const t = Array.isArray(s.type) ? s.type[0] : s.type;
  return t ? TYPE_WORDS[t] : 'a value';
}

/** The first problem of `value` against `schema` (its `$defs` resolve `$ref`s), or undefined. */
export function checkSchema(value: unknown, schema: Schema, path = '', root: Schema = schema): SchemaProblem | undefined {
  return new Checker(root).check(value, schema, path);
}

/** Throws when a schema uses a keyword this checker does not implement (or a bad $ref). */
export function assertSupportedSchema(schema: Schema, root: Schema = schema, at = '#'): void {
  for (const [k, v] of Object.entries(schema)) {
    if (!KEYWORDS.has(k)) throw new Error(`schema ${at}: keyword ${k} is not supported by the workflow checker`);
    if (k === '$ref' && !(typeof v === 'string' && /^#\/\$defs\/[^/]+$/.test(v) && root.$defs?.[v.slice(8)])) throw new Error(`schema ${at}: bad $ref ${String(v)}`);
    const subs: [string, Schema][] =
      k === 'properties' || k === '$defs'
        ? Object.entries(v as Record<string, Schema>).map(([n, s]) => [`${at}/${k}/${n}`, s])
        : k === 'allOf'
          ? (v as Schema[]).map((s, i) => [`${at}/allOf/${i}`, s])
          : ['items', 'not', 'if', 'then', 'else', 'propertyNames'].includes(k) || (k === 'additionalProperties' && typeof v === 'object')
            ? [[`${at}/${k}`, v as Schema]]
            : [];
    for (const [where, s] of subs) assertSupportedSchema(s, root, where);
  }
}
