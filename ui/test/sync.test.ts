import { describe, expect, it } from 'vitest';
import { DefinitionSession, type DefinitionBackend } from '../src/lib/definition-session.svelte';
import { getAt } from '../src/lib/edits';
import type { Analysis, EditOp, JsonObject, JsonValue } from '../src/lib/types';

/** A stand-in for the engine: JSON instead of JSON5, same contract. */
class FakeEngine implements DefinitionBackend {
  saved: string[] = [];
  analyzed: string[] = [];
  /** When set, analyze waits for `release()` so a test can interleave calls. */
  hold = false;
  private waiting: (() => void)[] = [];

  release() {
    this.waiting.splice(0).forEach((resume) => resume());
  }

  async analyze(text: string): Promise<Analysis> {
    this.analyzed.push(text);
    if (this.hold) await new Promise<void>((resume) => this.waiting.push(resume));
    return read(text);
  }

  async edit(text: string, edits: EditOp[]) {
    const value = JSON.parse(text) as JsonObject;
    for (const edit of edits) apply(value, edit);
    const next = JSON.stringify(value, null, 2);
    return { text: next, ...read(next) };
  }

  async save(text: string) {
    this.saved.push(text);
  }
}

function read(text: string): Analysis {
  try {
    const value = JSON.parse(text) as JsonObject;
    return { value, definition: value, diagnostics: [], arches: ['x86_64'], variants: [], packages_unchecked: null };
  } catch (error) {
    return {
      value: null,
      definition: null,
      diagnostics: [
        {
          severity: 'error',
          message: String(error),
          file: 'genpack.json5',
          line: 1,
          column: 1,
          end_line: 1,
          end_column: 2,
          path: '',
          help: null,
        },
      ],
      arches: [],
      variants: [],
      packages_unchecked: null,
    };
  }
}

function apply(root: JsonObject, edit: EditOp) {
  const parentPath = edit.path.slice(0, -1);
  const last = edit.path[edit.path.length - 1];
  const parent = getAt(root, parentPath) as Record<string, JsonValue> | JsonValue[];
  if (edit.op === 'set') (parent as Record<string, JsonValue>)[String(last)] = edit.value;
  if (edit.op === 'append') ((getAt(root, edit.path) as JsonValue[]) ?? []).push(edit.value);
  if (edit.op === 'remove') {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[String(last)];
  }
}

const START = '{\n  "name": "demo",\n  "packages": ["app-misc/screen"]\n}';

function open(engine = new FakeEngine()) {
  return { engine, session: new DefinitionSession(engine, START, read(START)) };
}

describe('form and raw view stay in sync', () => {
  it('a form edit changes the text and the form value together', async () => {
    const { session } = open();
    await session.applyEdits([{ op: 'set', path: ['name'], value: 'renamed' }]);
    expect(session.text).toContain('"renamed"');
    expect(session.value?.name).toBe('renamed');
    expect(session.dirty).toBe(true);
  });

  it('raw typing is read once it settles, and the form follows', async () => {
    const { session, engine } = open();
    session.setRawText(START.replace('demo', 'd'));
    session.setRawText(START.replace('demo', 'typed'));
    expect(session.pending).toBe(true);
    await session.settle();
    expect(engine.analyzed).toEqual([START.replace('demo', 'typed')]);
    expect(session.value?.name).toBe('typed');
    expect(session.pending).toBe(false);
  });

  it('drops a reading of text that has changed since', async () => {
    const { session, engine } = open();
    engine.hold = true;
    session.setRawText(START.replace('demo', 'first'));
    const first = session.settle();
    session.setRawText(START.replace('demo', 'second'));
    engine.release();
    await first;
    expect(session.value?.name).toBe('demo');
    engine.hold = false;
    await session.settle();
    expect(session.value?.name).toBe('second');
  });

  it('keeps the last readable value while the raw text is broken, with the error listed', async () => {
    const { session } = open();
    session.setRawText('{ "name": ');
    await session.settle();
    expect(session.value?.name).toBe('demo');
    expect(session.definition).toBeNull();
    expect(session.errorCount).toBe(1);
  });

  it('form edits made after raw typing apply to the typed text', async () => {
    const { session } = open();
    session.setRawText(START.replace('demo', 'typed'));
    await session.applyEdits([{ op: 'append', path: ['packages'], value: 'app-editors/nano' }]);
    expect(session.value).toMatchObject({ name: 'typed', packages: ['app-misc/screen', 'app-editors/nano'] });
  });
});

describe('undo, redo and saving', () => {
  it('undoes and redoes form edits and settled raw edits as whole steps', async () => {
    const { session } = open();
    await session.applyEdits([{ op: 'set', path: ['name'], value: 'one' }]);
    session.setRawText(session.text.replace('one', 'two'));
    await session.settle();
    expect(session.canUndo).toBe(true);
    await session.undo();
    expect(session.value?.name).toBe('one');
    await session.undo();
    expect(session.text).toBe(START);
    expect(session.dirty).toBe(false);
    expect(await session.undo()).toBe(false);
    await session.redo();
    expect(session.value?.name).toBe('one');
  });

  it('saves exactly the current text and clears the unsaved marker', async () => {
    const { session, engine } = open();
    await session.applyEdits([{ op: 'remove', path: ['packages', 0] }]);
    await session.save();
    expect(engine.saved).toEqual([session.text]);
    expect(session.dirty).toBe(false);
  });

  it('saving an untouched file writes it back byte for byte', async () => {
    const { session, engine } = open();
    await session.save();
    expect(engine.saved).toEqual([START]);
  });
});
