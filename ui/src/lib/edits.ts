// Turns form actions into edit operations for the engine's lossless editor. Each helper looks at
// the document as it is now, so that, for example, adding the first variant creates `variants`.

import type { EditOp, JsonObject, JsonPath, JsonValue } from './types';

/** The value at `path`, or undefined when any part of the path is missing. */
export function getAt(value: JsonValue | undefined, path: JsonPath): JsonValue | undefined {
  let current: JsonValue | undefined = value;
  for (const segment of path) {
    if (current === null || current === undefined || typeof current !== 'object') return undefined;
    if (Array.isArray(current)) {
      if (typeof segment !== 'number') return undefined;
      current = current[segment];
    } else {
      if (!Object.prototype.hasOwnProperty.call(current, String(segment))) return undefined;
      current = current[String(segment)];
    }
  }
  return current;
}

/**
 * Sets `path` to `value`. Missing parent objects are created by setting the deepest existing
 * ancestor's child to a nested object, so one operation is always enough.
 */
export function setOps(doc: JsonObject | null, path: JsonPath, value: JsonValue): EditOp[] {
  if (path.length === 0) return [{ op: 'set', path, value }];
  let depth = path.length - 1;
  while (depth > 0 && !isContainer(getAt(doc ?? {}, path.slice(0, depth)))) depth--;
  let nested: JsonValue = value;
  for (let index = path.length - 1; index > depth; index--) {
    nested = { [String(path[index])]: nested };
  }
  return [{ op: 'set', path: path.slice(0, depth + 1), value: nested }];
}

function isContainer(value: JsonValue | undefined): boolean {
  return value !== null && typeof value === 'object';
}

/** Removes `path` if it is there. */
export function removeOps(doc: JsonObject | null, path: JsonPath): EditOp[] {
  return getAt(doc ?? {}, path) === undefined ? [] : [{ op: 'remove', path }];
}

/** Sets a text field, or removes the key when the text is empty (so defaults apply). */
export function setTextOps(doc: JsonObject | null, path: JsonPath, text: string): EditOp[] {
  if (text.trim() === '') return removeOps(doc, path);
  if (getAt(doc ?? {}, path) === text) return [];
  return setOps(doc, path, text);
}

/** Adds `value` at the end of the list at `path`, creating the list when needed. */
export function appendOps(doc: JsonObject | null, path: JsonPath, value: JsonValue): EditOp[] {
  const list = getAt(doc ?? {}, path);
  if (Array.isArray(list)) return [{ op: 'append', path, value }];
  if (typeof list === 'string') return setOps(doc, path, [list, value]);
  return setOps(doc, path, [value]);
}

/**
 * Moves list item `from` one place to `to` by swapping the two values in place, which keeps the
 * comments and layout around both items.
 */
export function swapOps(doc: JsonObject | null, path: JsonPath, from: number, to: number): EditOp[] {
  const list = getAt(doc ?? {}, path);
  if (!Array.isArray(list) || from === to) return [];
  if (from < 0 || to < 0 || from >= list.length || to >= list.length) return [];
  return [
    { op: 'set', path: [...path, from], value: list[to] },
    { op: 'set', path: [...path, to], value: list[from] },
  ];
}

/** Renames a key of the object at `path` (map and scope editors), keeping its value. */
export function renameKeyOps(
  doc: JsonObject | null,
  path: JsonPath,
  from: string,
  to: string,
): EditOp[] {
  if (from === to || to.trim() === '') return [];
  const value = getAt(doc ?? {}, [...path, from]);
  if (value === undefined) return [];
  return [{ op: 'remove', path: [...path, from] }, ...setOps(doc, [...path, to], value)];
}

/** Removes list item `index`; removes the whole list when it was the last item. */
export function removeItemOps(doc: JsonObject | null, path: JsonPath, index: number): EditOp[] {
  const list = getAt(doc ?? {}, path);
  if (!Array.isArray(list) || index < 0 || index >= list.length) return [];
  return [{ op: 'remove', path: [...path, index] }];
}
