// Form generation: turns the definition's JSON Schema (from the engine) into field descriptions
// the Define step renders. The schema owns titles, help texts and allowed values; this module
// only decides which editor shows each field and where on the page it goes.

import type { JsonObject, JsonValue } from './types';

export type Schema = JsonObject;

export type FieldKind =
  | 'text' // one line of text
  | 'choice' // one of a fixed set of values
  | 'boolean'
  | 'number'
  | 'list' // a list of strings
  | 'map' // key -> string (or nothing)
  | 'table' // a list of objects with known columns
  | 'scopes' // arch blocks or variants: name -> a definition overlay
  | 'object' // a nested object with known fields
  | 'unsupported'; // edited in the raw tab only

export interface Choice {
  value: string;
  label: string;
  help?: string;
}

export interface Column {
  key: string;
  title: string;
  help: string;
  kind: 'text' | 'number' | 'boolean' | 'list';
  required: boolean;
}

export interface FieldSpec {
  key: string;
  title: string;
  help: string;
  kind: FieldKind;
  section: 'main' | 'advanced';
  choices?: Choice[];
  columns?: Column[];
  /** For 'map': whether an entry may have no value (written as null). */
  valueOptional?: boolean;
  /** For 'map': what the values mean, for the column header. */
  valueTitle?: string;
  default?: JsonValue;
  /** For 'object' and 'scopes': the fields inside. */
  fields?: FieldSpec[];
}

/**
 * Fields that speak Portage (Gentoo's package manager): shown under "Advanced" unless the
 * schema itself says where a field goes (`x-advanced`).
 */
const ADVANCED_KEYS = new Set([
  'use',
  'accept_keywords',
  'license',
  'mask',
  'env',
  'binpkg_excludes',
  'buildtime_packages',
  'buildtime_packages_first',
  'circulardep_breaker',
  'independent_binpkgs',
  'binhost',
  'devel',
  'lower_layer_capacity',
  'lower-layer-capacity',
  'default_variant',
  'outfile',
]);

/** Fields with their own place on the page (the scope switch), not in the field list. */
export const SCOPE_KEYS = ['arch', 'variants'] as const;

/** Field order on the main path; anything else follows in schema order. */
const MAIN_ORDER = [
  'name',
  'base',
  'profile',
  'compression',
  'packages',
  'services',
  'users',
  'groups',
  'setup_commands',
];

/** Words for keys that have no title in the schema: "setup_commands" -> "Setup commands". */
export function humanize(key: string): string {
  const words = key.replace(/[_-]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function asObject(value: JsonValue | undefined): JsonObject | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
}

/** Follows `$ref` (only local "#/..." references) until a real schema is reached. */
export function resolve(schema: Schema | undefined, root: Schema): Schema | undefined {
  let current = schema;
  for (let depth = 0; current && typeof current.$ref === 'string' && depth < 16; depth++) {
    const ref = current.$ref as string;
    if (!ref.startsWith('#/')) return current;
    let target: JsonValue | undefined = root;
    for (const part of ref.slice(2).split('/')) {
      target = asObject(target)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    }
    const { $ref: _ignored, ...rest } = current;
    current = { ...(asObject(target) ?? {}), ...rest };
  }
  return current;
}

function typesOf(schema: Schema): string[] {
  const type = schema.type;
  if (typeof type === 'string') return [type];
  if (Array.isArray(type)) return type.filter((t): t is string => typeof t === 'string');
  return [];
}

/**
 * The useful part of a schema: drops `null` from `type: [T, "null"]` and from
 * `anyOf/oneOf: [T, {type: null}]`, and merges the survivors' titles and descriptions.
 */
export function unwrap(schema: Schema | undefined, root: Schema): Schema {
  let current = resolve(schema, root) ?? {};
  for (let depth = 0; depth < 8; depth++) {
    const types = typesOf(current);
    if (types.length > 1 && types.includes('null')) {
      const rest = types.filter((t) => t !== 'null');
      current = { ...current, type: rest.length === 1 ? rest[0] : rest };
      continue;
    }
    const alternatives = (current.anyOf ?? current.oneOf) as JsonValue[] | undefined;
    if (Array.isArray(alternatives) && !alternativesAreConstants(alternatives, root)) {
      const real = alternatives
        .map((alternative) => resolve(asObject(alternative), root) ?? {})
        .filter((alternative) => !typesOf(alternative).every((t) => t === 'null') || !alternative.type);
      const nonNull = real.filter((alternative) => !(alternative.type === 'null'));
      if (nonNull.length === 1) {
        const { anyOf: _a, oneOf: _o, ...rest } = current;
        current = { ...nonNull[0], ...rest };
        continue;
      }
      // "a string or a list of strings": the list is the general form.
      const list = nonNull.find((alternative) => typesOf(alternative).includes('array'));
      if (nonNull.length === 2 && list && nonNull.some((a) => typesOf(a).includes('string'))) {
        const { anyOf: _a, oneOf: _o, ...rest } = current;
        current = { ...list, ...rest };
        continue;
      }
    }
    break;
  }
  return current;
}

/** A fixed value (`const` or `enum`) among alternatives. */
function isConstant(schema: Schema): boolean {
  return 'const' in schema || Array.isArray(schema.enum);
}

/** "Any other text of this shape" next to fixed values: `{ pattern }` without a type of its own. */
function isOpenText(schema: Schema): boolean {
  return typeof schema.pattern === 'string' && !isConstant(schema) && (schema.type === undefined || schema.type === 'string');
}

/** Alternatives that are fixed values (a choice list), perhaps with "any other text like…". */
function alternativesAreConstants(alternatives: JsonValue[], root: Schema): boolean {
  const real = alternatives.map((a) => resolve(asObject(a), root) ?? {});
  return (
    real.some(isConstant) && real.every((a) => isConstant(a) || a.type === 'null' || isOpenText(a))
  );
}

/** The allowed values of an enum-like schema, with their help texts when the schema has them. */
export function choicesOf(schema: Schema, root: Schema): Choice[] | undefined {
  if (Array.isArray(schema.enum)) {
    return schema.enum
      .filter((value): value is string => typeof value === 'string')
      .map((value) => ({ value, label: value }));
  }
  const alternatives = (schema.oneOf ?? schema.anyOf) as JsonValue[] | undefined;
  if (Array.isArray(alternatives) && alternativesAreConstants(alternatives, root)) {
    const choices: Choice[] = [];
    for (const alternative of alternatives) {
      const option = resolve(asObject(alternative), root) ?? {};
      const help = typeof option.description === 'string' ? option.description : undefined;
      if (typeof option.const === 'string') {
        const label = typeof option.title === 'string' && option.title ? option.title : option.const;
        choices.push({ value: option.const, label, help });
      } else if (Array.isArray(option.enum)) {
        for (const value of option.enum) {
          if (typeof value === 'string') choices.push({ value, label: value, help });
        }
      }
    }
    return choices.length ? choices : undefined;
  }
  return undefined;
}

function textOf(schema: Schema, key: 'title' | 'description'): string {
  const value = schema[key];
  return typeof value === 'string' ? value : '';
}

function columnKind(schema: Schema): Column['kind'] {
  const types = typesOf(schema);
  if (types.includes('boolean')) return 'boolean';
  if (types.includes('integer') || types.includes('number')) return 'number';
  if (types.includes('array')) return 'list';
  return 'text';
}

function columnsOf(item: Schema, root: Schema): Column[] | undefined {
  const properties = asObject(item.properties);
  if (!properties) return undefined;
  const required = new Set(Array.isArray(item.required) ? item.required.map(String) : []);
  return Object.entries(properties).map(([key, raw]) => {
    const schema = unwrap(asObject(raw), root);
    return {
      key,
      title: textOf(schema, 'title') || humanize(key),
      help: textOf(schema, 'description'),
      kind: columnKind(schema),
      required: required.has(key),
    };
  });
}

/** Describes the field `key` whose schema is `raw`. */
export function describeField(key: string, raw: Schema | undefined, root: Schema): FieldSpec {
  const schema = unwrap(raw, root);
  const title = textOf(schema, 'title') || humanize(key);
  const help = textOf(schema, 'description');
  const advancedFlag = schema['x-advanced'];
  const section: FieldSpec['section'] =
    typeof advancedFlag === 'boolean'
      ? advancedFlag
        ? 'advanced'
        : 'main'
      : ADVANCED_KEYS.has(key)
        ? 'advanced'
        : 'main';
  const field: FieldSpec = { key, title, help, kind: 'unsupported', section };
  if (schema.default !== undefined) field.default = schema.default;

  const choices = choicesOf(schema, root);
  if (choices) return { ...field, kind: 'choice', choices };

  const types = typesOf(schema);
  if (types.includes('boolean')) return { ...field, kind: 'boolean' };
  if (types.includes('integer') || types.includes('number')) return { ...field, kind: 'number' };
  if (types.includes('string')) return { ...field, kind: 'text' };
  if (types.includes('array')) {
    const item = unwrap(asObject(schema.items), root);
    const columns = columnsOf(item, root);
    if (columns) return { ...field, kind: 'table', columns };
    return { ...field, kind: 'list' };
  }
  if (types.includes('object') || schema.properties || schema.additionalProperties) {
    const values = asObject(schema.additionalProperties);
    if (values) {
      const value = unwrap(values, root);
      if (value.properties) {
        return { ...field, kind: 'scopes', fields: describeFields(value, root) };
      }
      const raw = resolve(values, root) ?? {};
      const valueTypes = typesOf(raw);
      const alternatives = (raw.anyOf ?? raw.oneOf) as JsonValue[] | undefined;
      const valueOptional =
        valueTypes.includes('null') ||
        (Array.isArray(alternatives) &&
          alternatives.some((a) => (resolve(asObject(a), root) ?? {}).type === 'null'));
      return {
        ...field,
        kind: 'map',
        valueOptional,
        valueTitle: textOf(value, 'title') || undefined,
      };
    }
    if (asObject(schema.properties)) {
      return { ...field, kind: 'object', fields: describeFields(schema, root) };
    }
  }
  return field;
}

/** Every field of an object schema, in page order: the main path first, in a fixed order. */
export function describeFields(schema: Schema, root: Schema): FieldSpec[] {
  const resolved = unwrap(schema, root);
  const properties = asObject(resolved.properties) ?? {};
  const fields = Object.entries(properties).map(([key, raw]) => describeField(key, asObject(raw), root));
  const rank = (field: FieldSpec) => {
    const index = MAIN_ORDER.indexOf(field.key);
    return index === -1 ? MAIN_ORDER.length : index;
  };
  return fields
    .map((field, index) => ({ field, index }))
    .sort((a, b) => rank(a.field) - rank(b.field) || a.index - b.index)
    .map(({ field }) => field);
}

/** The layout of the Define form: top-level fields and the fields an arch block or variant takes. */
export interface DefinitionForm {
  main: FieldSpec[];
  advanced: FieldSpec[];
  /** Fields allowed inside `arch.<name>`. */
  archFields: FieldSpec[];
  /** Fields allowed inside `variants.<name>`. */
  variantFields: FieldSpec[];
  archHelp: string;
  variantHelp: string;
}

export function buildDefinitionForm(root: Schema): DefinitionForm {
  const fields = describeFields(root, root);
  const scopes = Object.fromEntries(
    fields.filter((field) => (SCOPE_KEYS as readonly string[]).includes(field.key)).map((f) => [f.key, f]),
  );
  const rest = fields.filter((field) => !(SCOPE_KEYS as readonly string[]).includes(field.key));
  return {
    main: rest.filter((field) => field.section === 'main'),
    advanced: rest.filter((field) => field.section === 'advanced'),
    archFields: scopes.arch?.fields ?? [],
    variantFields: scopes.variants?.fields ?? [],
    archHelp: scopes.arch?.help ?? '',
    variantHelp: scopes.variants?.help ?? '',
  };
}

/** Splits scope fields the same way the top level is split. */
export function splitSections(fields: FieldSpec[]): { main: FieldSpec[]; advanced: FieldSpec[] } {
  const rest = fields.filter((field) => !(SCOPE_KEYS as readonly string[]).includes(field.key));
  return {
    main: rest.filter((field) => field.section === 'main'),
    advanced: rest.filter((field) => field.section === 'advanced'),
  };
}

/** Package-list fields: what goes in them depends on the base. */
const PACKAGE_LISTS = new Set(['packages', 'buildtime_packages']);

/** Whether `base` (as written in the definition; Gentoo when empty) is a Debian one. */
export function isDebianBase(base: string | null | undefined): boolean {
  return typeof base === 'string' && /^debian(:|$)/.test(base.trim());
}

/** Help for a field in the words of the project's base: package names as that base writes them. */
export function helpFor(field: FieldSpec, base: string): string {
  if (!PACKAGE_LISTS.has(field.key) || !isDebianBase(base)) return field.help;
  return field.key === 'packages'
    ? 'The software to install, one Debian package per entry, named as Debian names it: `nginx`, `openssh-server`, `curl`. `-name` removes a package the profile brings.'
    : 'Debian packages needed only while the image is built (compilers, download tools); they are not copied into the finished image.';
}

/** The example shown in an empty entry of a list field, for the project's base. */
export function placeholderFor(key: string, base: string): string {
  if (PACKAGE_LISTS.has(key) || key === 'mask') return isDebianBase(base) ? 'package name, like nginx' : 'category/name, like app-misc/screen';
  if (key === 'services') return 'unit name, like sshd or fstrim.timer';
  return '';
}

/** Portage (Gentoo) settings: on a Debian base they do nothing, so the form hides them unless set. */
const PORTAGE_ONLY = new Set(['use', 'accept_keywords', 'license', 'mask', 'env', 'binpkg_excludes', 'buildtime_packages_first', 'circulardep_breaker', 'independent_binpkgs', 'binhost']);

/** Whether the form shows `field` for a definition on `base` holding `value` there. */
export function shownFor(field: FieldSpec, base: string, value: JsonValue | undefined): boolean {
  if (!isDebianBase(base) || !PORTAGE_ONLY.has(field.key)) return true;
  return value !== undefined && value !== null && value !== false;
}
