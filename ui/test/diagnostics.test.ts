import { describe, expect, it } from 'vitest';
import {
  countDiagnostics,
  diagnosticsAt,
  diagnosticsFor,
  locationLabel,
  parsePath,
  sortDiagnostics,
  summarize,
  textRange,
} from '../src/lib/diagnostics';
import type { Diagnostic } from '../src/lib/types';

function diagnostic(partial: Partial<Diagnostic>): Diagnostic {
  const start = { line: partial.line ?? 1, column: partial.column ?? 1 };
  return {
    severity: 'error',
    message: 'm',
    file: 'demo/genpack.json5',
    ...start,
    end_line: start.line,
    end_column: start.column,
    path: '',
    help: null,
    ...partial,
  };
}

describe('diagnostic paths', () => {
  it('reads the engine spelling with quoted keys and indexes', () => {
    expect(parsePath('variants.cuda.use."sci-ml/caffe2"')).toEqual(['variants', 'cuda', 'use', 'sci-ml/caffe2']);
    expect(parsePath('packages[3]')).toEqual(['packages', 3]);
    expect(parsePath('users[0].name')).toEqual(['users', 0, 'name']);
    expect(parsePath('use."dev-lang/python:3.12"')).toEqual(['use', 'dev-lang/python:3.12']);
  });

  it('reads JSON pointers and the empty path of the whole file', () => {
    expect(parsePath('/arch/x86_64/packages/0')).toEqual(['arch', 'x86_64', 'packages', 0]);
    expect(parsePath('')).toEqual([]);
    expect(parsePath(' ')).toEqual([]);
  });
});

describe('validation display', () => {
  const list = [
    diagnostic({ path: 'packages[1]', message: 'bad atom', line: 5 }),
    diagnostic({ path: 'packages', severity: 'warning', message: 'duplicate', line: 4 }),
    diagnostic({ path: 'name', message: 'bad name', line: 2 }),
    diagnostic({ path: 'variants.gui.packages[0]', message: 'in variant', line: 9 }),
    diagnostic({ path: '', message: 'syntax', line: 12, column: 3 }),
  ];

  it('attaches findings to the field that owns them, including its items', () => {
    expect(diagnosticsFor(list, ['packages']).map((d) => d.message)).toEqual(['bad atom', 'duplicate']);
    expect(diagnosticsFor(list, ['name']).map((d) => d.message)).toEqual(['bad name']);
    expect(diagnosticsFor(list, ['variants', 'gui', 'packages']).map((d) => d.message)).toEqual(['in variant']);
    expect(diagnosticsAt(list, ['packages', 1]).map((d) => d.message)).toEqual(['bad atom']);
  });

  it('lists errors first, then warnings, each in text order', () => {
    expect(sortDiagnostics(list).map((d) => d.line)).toEqual([2, 5, 9, 12, 4]);
  });

  it('summarizes counts in words', () => {
    expect(summarize(countDiagnostics(list))).toBe('4 errors, 1 warning');
    expect(summarize(countDiagnostics([]))).toBe('No problems');
    expect(locationLabel({ line: 12, column: 3 })).toBe('12:3');
  });

  it('turns line:column into the marked text range', () => {
    const text = '{\n  name: "x",\n  packages: [oops],\n}\n';
    const range = textRange(text, diagnostic({ line: 3, column: 14 }));
    expect(text.slice(range.from, range.to)).toBe('oops');
    const spanned = textRange(text, diagnostic({ line: 2, column: 3, end_line: 2, end_column: 7 }));
    expect(text.slice(spanned.from, spanned.to)).toBe('name');
  });

  it('marks the character before a point at the end of a line', () => {
    const text = '{\n  packages: ["a/b"]\n  services: [],\n}';
    const range = textRange(text, diagnostic({ line: 2, column: 20 }));
    expect(text.slice(range.from, range.to)).toBe(']');
  });

  it('keeps ranges inside the text for positions past the end', () => {
    const text = 'ab\ncd';
    const range = textRange(text, diagnostic({ line: 9, column: 40 }));
    expect(range.from).toBeLessThanOrEqual(text.length);
    expect(range.to).toBeLessThanOrEqual(text.length);
  });
});
