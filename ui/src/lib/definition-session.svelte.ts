// One open genpack.json5: the text (the source of truth), the engine's reading of it, undo/redo
// and the saved state. Form edits go to the engine as edit operations and come back as new text;
// raw edits are sent as text once typing settles. Stale answers are dropped, so form and raw
// view never disagree.

import { TextHistory } from './history';
import type { Analysis, Diagnostic, EditOp, EditResult, JsonObject, JsonValue } from './types';

/** The document's top level as the form reads it: an object, else nothing. */
function objectOf(value: JsonValue | null): JsonObject | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : null;
}

/** What the session needs from the engine. */
export interface DefinitionBackend {
  analyze(text: string): Promise<Analysis>;
  edit(text: string, edits: EditOp[]): Promise<EditResult>;
  save(text: string): Promise<void>;
}

export class DefinitionSession {
  text = $state('');
  savedText = $state('');
  value = $state<JsonObject | null>(null);
  definition = $state<JsonObject | null>(null);
  diagnostics = $state<Diagnostic[]>([]);
  arches = $state<string[]>([]);
  variants = $state<string[]>([]);
  /** Why package names were not checked against the base's package index, when they were not. */
  packagesUnchecked = $state<string | null>(null);
  /** True while raw text waits to be read by the engine. */
  pending = $state(false);
  canUndo = $state(false);
  canRedo = $state(false);

  private history: TextHistory;
  private generation = 0;

  constructor(
    private backend: DefinitionBackend,
    text: string,
    analysis: Analysis,
  ) {
    this.text = text;
    this.savedText = text;
    this.history = new TextHistory(text);
    this.adopt(analysis);
  }

  get dirty(): boolean {
    return this.text !== this.savedText;
  }

  /** Applies form edits through the engine; the returned text becomes one undo step. */
  async applyEdits(edits: EditOp[]): Promise<void> {
    if (edits.length === 0) return;
    await this.settle();
    const generation = ++this.generation;
    const result = await this.backend.edit(this.text, edits);
    if (generation !== this.generation) return;
    this.text = result.text;
    this.history.push(result.text);
    this.adopt(result);
    this.syncHistoryFlags();
  }

  /** The raw editor changed the text; call `settle` when typing pauses. */
  setRawText(text: string): void {
    if (text === this.text) return;
    this.text = text;
    this.pending = true;
    this.generation++;
  }

  /** Has the engine read the current raw text, and records it as one undo step. */
  async settle(): Promise<void> {
    if (!this.pending) return;
    const text = this.text;
    const generation = ++this.generation;
    this.history.push(text);
    this.syncHistoryFlags();
    const analysis = await this.backend.analyze(text);
    if (generation !== this.generation || text !== this.text) return;
    this.pending = false;
    this.adopt(analysis);
  }

  async undo(): Promise<boolean> {
    await this.settle();
    const text = this.history.undo();
    if (text === null) return false;
    await this.show(text);
    return true;
  }

  async redo(): Promise<boolean> {
    await this.settle();
    const text = this.history.redo();
    if (text === null) return false;
    await this.show(text);
    return true;
  }

  /** Writes the text to disk as it is; the file is byte-identical when nothing changed. */
  async save(): Promise<void> {
    await this.settle();
    const text = this.text;
    await this.backend.save(text);
    this.savedText = text;
  }

  get errorCount(): number {
    return this.diagnostics.filter((diagnostic) => diagnostic.severity === 'error').length;
  }

  private async show(text: string): Promise<void> {
    const generation = ++this.generation;
    this.text = text;
    this.syncHistoryFlags();
    const analysis = await this.backend.analyze(text);
    if (generation !== this.generation) return;
    this.adopt(analysis);
  }

  private adopt(analysis: Analysis): void {
    // A text the engine cannot read keeps the last readable value, so the form stays usable
    // while the raw editor shows where the error is.
    // A document that is not an object (`[]`, `42`) is not readable as a definition either.
    const value = objectOf(analysis.value);
    if (value !== null) this.value = value;
    this.definition = objectOf(analysis.definition);
    this.diagnostics = analysis.diagnostics;
    this.arches = analysis.arches;
    this.variants = analysis.variants;
    this.packagesUnchecked = analysis.packages_unchecked ?? null;
  }

  private syncHistoryFlags(): void {
    this.canUndo = this.history.canUndo;
    this.canRedo = this.history.canRedo;
  }
}
