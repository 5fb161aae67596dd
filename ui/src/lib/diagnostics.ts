// Diagnostics as the window shows them: attached to form fields, listed as problems, and
// turned into text ranges for the raw editor.

import type { Diagnostic, JsonPath, Severity, TextMarker } from './types';

/**
 * Reads a diagnostic's path: dotted with brackets and quoted keys ("arch.x86_64.packages[2]",
 * as the engine writes it), or a JSON pointer ("/packages/2").
 */
export function parsePath(path: string): JsonPath {
  const text = path.trim();
  if (text === '' || text === '$' || text === '/') return [];
  if (text.startsWith('/')) {
    return text
      .slice(1)
      .split('/')
      .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
      .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
  }
  // `variants.cuda.use."sci-ml/caffe2"`, `packages[3]`: plain keys, JSON-quoted keys, indexes.
  const segments: JsonPath = [];
  const body = text.startsWith('$') ? text.slice(1) : text;
  let index = 0;
  while (index < body.length) {
    const char = body[index];
    if (char === '.') {
      index++;
    } else if (char === '[') {
      const end = body.indexOf(']', index);
      const inner = body.slice(index + 1, end === -1 ? body.length : end);
      segments.push(/^\d+$/.test(inner) ? Number(inner) : inner.replace(/^["']|["']$/g, ''));
      index = end === -1 ? body.length : end + 1;
    } else if (char === '"') {
      let end = index + 1;
      while (end < body.length && body[end] !== '"') end += body[end] === '\\' ? 2 : 1;
      const quoted = body.slice(index, end + 1);
      try {
        segments.push(JSON.parse(quoted) as string);
      } catch {
        segments.push(quoted.slice(1, -1));
      }
      index = end + 1;
    } else {
      let end = index;
      while (end < body.length && body[end] !== '.' && body[end] !== '[') end++;
      segments.push(body.slice(index, end));
      index = end;
    }
  }
  return segments;
}

/** Whether `path` lies at or below `prefix`. */
export function isWithin(path: JsonPath, prefix: JsonPath): boolean {
  if (path.length < prefix.length) return false;
  return prefix.every((segment, index) => String(path[index]) === String(segment));
}

/** The diagnostics that belong to the field at `fieldPath` (the field itself or anything inside). */
export function diagnosticsFor(diagnostics: Diagnostic[], fieldPath: JsonPath): Diagnostic[] {
  return diagnostics.filter((diagnostic) => {
    const path = parsePath(diagnostic.path);
    return path.length > 0 && isWithin(path, fieldPath);
  });
}

/** The diagnostics at exactly `path` (one list item, one table row). */
export function diagnosticsAt(diagnostics: Diagnostic[], path: JsonPath): Diagnostic[] {
  return diagnostics.filter((diagnostic) => {
    const own = parsePath(diagnostic.path);
    return own.length >= path.length && isWithin(own, path);
  });
}

const ORDER: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/** Errors first, then warnings, then notes; each group in the order of the text. */
export function sortDiagnostics<T extends TextMarker>(diagnostics: T[]): T[] {
  return [...diagnostics].sort(
    (a, b) =>
      (ORDER[a.severity] ?? 3) - (ORDER[b.severity] ?? 3) || a.line - b.line || a.column - b.column,
  );
}

export interface Counts {
  errors: number;
  warnings: number;
  infos: number;
}

export function countDiagnostics(diagnostics: { severity: Severity }[]): Counts {
  const counts = { errors: 0, warnings: 0, infos: 0 };
  for (const diagnostic of diagnostics) {
    if (diagnostic.severity === 'error') counts.errors++;
    else if (diagnostic.severity === 'warning') counts.warnings++;
    else counts.infos++;
  }
  return counts;
}

/** "2 errors, 1 warning" or "No problems". */
export function summarize(counts: Counts): string {
  const parts: string[] = [];
  if (counts.errors) parts.push(`${counts.errors} ${counts.errors === 1 ? 'error' : 'errors'}`);
  if (counts.warnings) {
    parts.push(`${counts.warnings} ${counts.warnings === 1 ? 'warning' : 'warnings'}`);
  }
  if (counts.infos) parts.push(`${counts.infos} ${counts.infos === 1 ? 'note' : 'notes'}`);
  return parts.length ? parts.join(', ') : 'No problems';
}

/** Offsets of the start of every line of `text`. */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let index = 0; index < text.length; index++) {
    if (text[index] === '\n') starts.push(index + 1);
  }
  return starts;
}

/**
 * The text range a diagnostic covers, as offsets into `text` (for editor markers).
 * Columns count characters from 1; a diagnostic without an end covers the rest of its word, or
 * at least one character.
 */
export function textRange(text: string, diagnostic: TextMarker): { from: number; to: number } {
  const starts = lineStarts(text);
  const offset = (line: number, column: number) => {
    const lineIndex = Math.min(Math.max(line, 1), starts.length) - 1;
    const lineStart = starts[lineIndex];
    const lineEnd = lineIndex + 1 < starts.length ? starts[lineIndex + 1] - 1 : text.length;
    return Math.min(lineStart + Math.max(column, 1) - 1, lineEnd);
  };
  const from = offset(diagnostic.line, diagnostic.column);
  let to = diagnostic.end_line ? offset(diagnostic.end_line, diagnostic.end_column ?? 1) : from;
  if (to <= from) {
    const word = /^[^\s,:{}[\]]+/.exec(text.slice(from));
    to = Math.min(from + Math.max(word ? word[0].length : 1, 1), text.length);
  }
  // A point at the end of a line (a missing comma) marks the character before it, so the
  // marker is visible.
  if (/^\s*$/.test(text.slice(from, to)) && from > 0 && text[from - 1] !== '\n') {
    return { from: from - 1, to: from };
  }
  return { from, to: Math.max(to, from) };
}

/** "line 4, column 7" for lists a person reads. */
export function locationLabel(diagnostic: { line: number; column?: number | null }): string {
  return diagnostic.column ? `${diagnostic.line}:${diagnostic.column}` : `line ${diagnostic.line}`;
}
