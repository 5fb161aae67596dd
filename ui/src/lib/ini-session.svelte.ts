// One open system.ini: text (the source of truth), the engine's reading of it, undo/redo and
// the saved state. Works like the definition session: form edits become edit requests to the
// engine's lossless document, raw edits are read once typing settles.

import { TextHistory } from './history';
import type { IniAnalysis, IniEdit, IniEditResult, IniIssue, IniSection } from './types';

export interface IniBackend {
  analyze(text: string): Promise<IniAnalysis>;
  edit(text: string, edits: IniEdit[]): Promise<IniEditResult>;
  save(text: string): Promise<void>;
}

export class IniSession {
  text = $state('');
  savedText = $state('');
  sections = $state<IniSection[]>([]);
  issues = $state<IniIssue[]>([]);
  pending = $state(false);
  canUndo = $state(false);
  canRedo = $state(false);

  private history: TextHistory;
  private generation = 0;

  constructor(
    private backend: IniBackend,
    text: string,
    analysis: IniAnalysis,
  ) {
    this.text = text;
    this.savedText = text;
    this.history = new TextHistory(text);
    this.sections = analysis.sections;
    this.issues = analysis.issues;
  }

  get dirty(): boolean {
    return this.text !== this.savedText;
  }

  get errors(): IniIssue[] {
    return this.issues.filter((issue) => issue.severity === 'error');
  }

  async applyEdits(edits: IniEdit[]): Promise<void> {
    if (edits.length === 0) return;
    await this.settle();
    const generation = ++this.generation;
    const result = await this.backend.edit(this.text, edits);
    if (generation !== this.generation) return;
    this.text = result.text;
    this.history.push(result.text);
    this.adopt(result);
  }

  setRawText(text: string): void {
    if (text === this.text) return;
    this.text = text;
    this.pending = true;
    this.generation++;
  }

  async settle(): Promise<void> {
    if (!this.pending) return;
    const text = this.text;
    const generation = ++this.generation;
    this.history.push(text);
    this.flags();
    const analysis = await this.backend.analyze(text);
    if (generation !== this.generation || text !== this.text) return;
    this.pending = false;
    this.adopt(analysis);
  }

  async undo(): Promise<void> {
    await this.settle();
    const text = this.history.undo();
    if (text !== null) await this.show(text);
  }

  async redo(): Promise<void> {
    await this.settle();
    const text = this.history.redo();
    if (text !== null) await this.show(text);
  }

  /** Reads the text again, e.g. after the keys it is checked against changed. */
  async recheck(): Promise<void> {
    await this.settle();
    const generation = ++this.generation;
    const analysis = await this.backend.analyze(this.text);
    if (generation === this.generation) this.adopt(analysis);
  }

  /** Saves after checking: a file with errors is not written (the errors are listed instead). */
  async save(): Promise<boolean> {
    await this.settle();
    if (this.errors.length > 0) return false;
    const text = this.text;
    await this.backend.save(text);
    this.savedText = text;
    return true;
  }

  private async show(text: string): Promise<void> {
    const generation = ++this.generation;
    this.text = text;
    this.flags();
    const analysis = await this.backend.analyze(text);
    if (generation === this.generation) this.adopt(analysis);
  }

  private adopt(analysis: IniAnalysis): void {
    this.sections = analysis.sections;
    this.issues = analysis.issues;
    this.flags();
  }

  private flags(): void {
    this.canUndo = this.history.canUndo;
    this.canRedo = this.history.canRedo;
  }
}
