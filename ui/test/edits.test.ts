import { describe, expect, it } from 'vitest';
import { appendOps, getAt, removeItemOps, removeOps, renameKeyOps, setOps, setTextOps, swapOps } from '../src/lib/edits';
import { TextHistory } from '../src/lib/history';
import type { JsonObject } from '../src/lib/types';

const doc: JsonObject = {
  name: 'demo',
  packages: ['a/b', 'c/d', 'e/f'],
  use: { 'a/b': 'x' },
  variants: { gui: { packages: ['g/h'] } },
};

describe('form actions as edit operations', () => {
  it('sets a value where it is, or creates missing parents in one operation', () => {
    expect(setOps(doc, ['name'], 'x')).toEqual([{ op: 'set', path: ['name'], value: 'x' }]);
    expect(setOps(doc, ['arch', 'aarch64', 'packages'], ['p/q'])).toEqual([
      { op: 'set', path: ['arch'], value: { aarch64: { packages: ['p/q'] } } },
    ]);
    expect(setOps(doc, ['variants', 'gui', 'profile'], 'weston/paravirt')).toEqual([
      { op: 'set', path: ['variants', 'gui', 'profile'], value: 'weston/paravirt' },
    ]);
  });

  it('removes a text field that is emptied, and leaves an unchanged one alone', () => {
    expect(setTextOps(doc, ['name'], '  ')).toEqual([{ op: 'remove', path: ['name'] }]);
    expect(setTextOps(doc, ['name'], 'demo')).toEqual([]);
    expect(setTextOps(doc, ['profile'], '')).toEqual([]);
    expect(removeOps(doc, ['missing'])).toEqual([]);
  });

  it('appends to a list, or creates it', () => {
    expect(appendOps(doc, ['packages'], 'x/y')).toEqual([{ op: 'append', path: ['packages'], value: 'x/y' }]);
    expect(appendOps(doc, ['services'], 'sshd')).toEqual([{ op: 'set', path: ['services'], value: ['sshd'] }]);
  });

  it('reorders by swapping two neighbours in place', () => {
    expect(swapOps(doc, ['packages'], 2, 1)).toEqual([
      { op: 'set', path: ['packages', 2], value: 'c/d' },
      { op: 'set', path: ['packages', 1], value: 'e/f' },
    ]);
    expect(swapOps(doc, ['packages'], 0, -1)).toEqual([]);
  });

  it('renames map keys and removes list items', () => {
    expect(renameKeyOps(doc, ['use'], 'a/b', 'a/c')).toEqual([
      { op: 'remove', path: ['use', 'a/b'] },
      { op: 'set', path: ['use', 'a/c'], value: 'x' },
    ]);
    expect(removeItemOps(doc, ['packages'], 1)).toEqual([{ op: 'remove', path: ['packages', 1] }]);
    expect(removeItemOps(doc, ['packages'], 7)).toEqual([]);
  });

  it('reads values at paths', () => {
    expect(getAt(doc, ['variants', 'gui', 'packages', 0])).toBe('g/h');
    expect(getAt(doc, ['packages', 'x'])).toBeUndefined();
  });
});

describe('text history', () => {
  it('undoes, redoes and forgets the redo branch on a new edit', () => {
    const history = new TextHistory('a');
    history.push('b');
    history.push('b');
    history.push('c');
    expect(history.undo()).toBe('b');
    expect(history.undo()).toBe('a');
    expect(history.undo()).toBeNull();
    expect(history.redo()).toBe('b');
    history.push('d');
    expect(history.canRedo).toBe(false);
    expect(history.text).toBe('d');
  });
});
