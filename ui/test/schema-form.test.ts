import { describe, expect, it } from 'vitest';
import { buildDefinitionForm, describeField, helpFor, humanize, isDebianBase, placeholderFor, shownFor, unwrap } from '../src/lib/schema-form';
import type { JsonObject } from '../src/lib/types';

// A schema in the shape schemars writes for the definition model.
const schema: JsonObject = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'Definition',
  type: 'object',
  properties: {
    packages: { title: 'Packages', description: 'Software to install.', type: 'array', items: { type: 'string' } },
    name: { title: 'Image name', description: 'Names the image file.', type: ['string', 'null'] },
    use: {
      title: 'USE flags',
      description: 'Optional features per package.',
      type: 'object',
      additionalProperties: { type: 'string' },
    },
    accept_keywords: {
      description: 'Allow versions not yet stable.',
      type: 'object',
      additionalProperties: { type: ['string', 'null'] },
    },
    compression: {
      title: 'Compression',
      description: 'How the image is packed.',
      anyOf: [{ $ref: '#/$defs/Compression' }, { type: 'null' }],
    },
    users: { title: 'Users', type: 'array', items: { $ref: '#/$defs/User' } },
    binpkg_excludes: {
      title: 'Build from source',
      anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    },
    arch: {
      title: 'Per machine type',
      description: 'Settings for one machine type.',
      type: 'object',
      additionalProperties: { $ref: '#/$defs/ArchBlock' },
    },
    variants: {
      title: 'Variants',
      type: 'object',
      additionalProperties: { $ref: '#/$defs/Variant' },
    },
    devel: { title: 'Developer image', type: 'boolean', default: false },
  },
  $defs: {
    Compression: {
      oneOf: [
        { const: 'gzip', description: 'Fast, larger.' },
        { const: 'xz', description: 'Small, slow.' },
      ],
    },
    User: {
      type: 'object',
      required: ['name'],
      properties: {
        name: { title: 'Name', type: 'string' },
        uid: { title: 'User ID', type: ['integer', 'null'] },
        additional_groups: { title: 'Groups', type: 'array', items: { type: 'string' } },
        empty_password: { title: 'No password', type: 'boolean' },
      },
    },
    ArchBlock: {
      type: 'object',
      properties: {
        packages: { title: 'Packages', type: 'array', items: { type: 'string' } },
        use: { title: 'USE flags', type: 'object', additionalProperties: { type: 'string' } },
      },
    },
    Variant: {
      type: 'object',
      properties: {
        profile: { title: 'Profile', type: ['string', 'null'] },
        packages: { title: 'Packages', type: 'array', items: { type: 'string' } },
      },
    },
  },
};

describe('form generation from the definition schema', () => {
  const form = buildDefinitionForm(schema);

  it('puts plain fields on the main path in a fixed order, Portage terms under Advanced', () => {
    expect(form.main.map((field) => field.key)).toEqual(['name', 'compression', 'packages', 'users']);
    expect(form.advanced.map((field) => field.key)).toEqual(['use', 'accept_keywords', 'binpkg_excludes', 'devel']);
  });

  it('carries every title and help text from the schema', () => {
    const name = form.main.find((field) => field.key === 'name');
    expect(name).toMatchObject({ title: 'Image name', help: 'Names the image file.', kind: 'text' });
    const keywords = form.advanced.find((field) => field.key === 'accept_keywords');
    expect(keywords?.title).toBe('Accept keywords');
    expect(keywords?.help).toBe('Allow versions not yet stable.');
  });

  it('turns a nullable reference to constants into a choice with per-choice help', () => {
    const compression = form.main.find((field) => field.key === 'compression');
    expect(compression?.kind).toBe('choice');
    expect(compression?.choices).toEqual([
      { value: 'gzip', label: 'gzip', help: 'Fast, larger.' },
      { value: 'xz', label: 'xz', help: 'Small, slow.' },
    ]);
  });

  it('picks list, map and table editors from the shapes', () => {
    expect(form.main.find((field) => field.key === 'packages')?.kind).toBe('list');
    expect(form.advanced.find((field) => field.key === 'use')).toMatchObject({ kind: 'map', valueOptional: false });
    expect(form.advanced.find((field) => field.key === 'accept_keywords')).toMatchObject({ kind: 'map', valueOptional: true });
    expect(form.advanced.find((field) => field.key === 'binpkg_excludes')?.kind).toBe('list');
    const users = form.main.find((field) => field.key === 'users');
    expect(users?.kind).toBe('table');
    expect(users?.columns?.map((column) => [column.key, column.kind, column.required])).toEqual([
      ['name', 'text', true],
      ['uid', 'number', false],
      ['additional_groups', 'list', false],
      ['empty_password', 'boolean', false],
    ]);
  });

  it('gives arch blocks and variants their own field sets for the scope switch', () => {
    expect(form.archFields.map((field) => field.key)).toEqual(['packages', 'use']);
    expect(form.variantFields.map((field) => field.key)).toEqual(['profile', 'packages']);
    expect(form.archHelp).toBe('Settings for one machine type.');
  });

  it('honours an explicit x-advanced flag over the built-in grouping', () => {
    const field = describeField('use', { type: 'object', 'x-advanced': false, additionalProperties: { type: 'string' } }, schema);
    expect(field.section).toBe('main');
  });

  it('keeps defaults for placeholders', () => {
    expect(form.advanced.find((field) => field.key === 'devel')).toMatchObject({ kind: 'boolean', default: false });
  });

  it('marks shapes it cannot edit as raw-only instead of guessing', () => {
    expect(describeField('odd', { type: 'array', items: { type: 'array' } }, schema).kind).toBe('list');
    expect(describeField('odd', { anyOf: [{ type: 'integer' }, { type: 'object' }] }, schema).kind).toBe('unsupported');
  });

  it('unwraps nullable types and humanizes keys', () => {
    expect(unwrap({ type: ['integer', 'null'] }, schema).type).toBe('integer');
    expect(humanize('setup_commands')).toBe('Setup commands');
  });

  it('offers the known bases as a list, keeping room for another Debian release', () => {
    const base = describeField(
      'base',
      {
        title: 'Base system',
        type: 'string',
        default: 'gentoo',
        anyOf: [
          { const: 'debian:bookworm', title: 'Debian 12 (bookworm)', description: 'Ready-made packages.' },
          { const: 'gentoo', title: 'Gentoo', description: 'Compiled from source.' },
          { pattern: '^debian(:[a-z][a-z0-9-]*)?$', description: 'Another Debian release.' },
        ],
      },
      {},
    );
    expect(base.kind).toBe('choice');
    expect(base.choices).toEqual([
      { value: 'debian:bookworm', label: 'Debian 12 (bookworm)', help: 'Ready-made packages.' },
      { value: 'gentoo', label: 'Gentoo', help: 'Compiled from source.' },
    ]);
  });

  it('speaks the project\'s base: Debian names on a Debian base, atoms on Gentoo', () => {
    const packages = describeField('packages', (schema.properties as JsonObject).packages as JsonObject, schema);
    expect(isDebianBase('debian:bookworm')).toBe(true);
    expect(isDebianBase('debian')).toBe(true);
    expect(isDebianBase('gentoo')).toBe(false);
    expect(isDebianBase('')).toBe(false);
    expect(helpFor(packages, 'debian:bookworm')).toMatch(/Debian package.*`nginx`/);
    expect(helpFor(packages, 'debian:bookworm')).not.toMatch(/category\/name|=sys-fs/);
    expect(helpFor(packages, 'gentoo')).toBe('Software to install.');
    expect(placeholderFor('packages', 'debian:bookworm')).toBe('package name, like nginx');
    expect(placeholderFor('packages', 'gentoo')).toBe('category/name, like app-misc/screen');
    // Portage settings are hidden on Debian unless the file sets them.
    const use = describeField('use', (schema.properties as JsonObject).use as JsonObject, schema);
    expect(shownFor(use, 'debian:bookworm', undefined)).toBe(false);
    expect(shownFor(use, 'debian:bookworm', { 'a/b': 'x' })).toBe(true);
    expect(shownFor(use, 'gentoo', undefined)).toBe(true);
    expect(shownFor(packages, 'debian:bookworm', undefined)).toBe(true);
  });
});
