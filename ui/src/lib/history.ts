// Undo and redo over whole text states: every form edit and every settled raw edit is one step.

export class TextHistory {
  private past: string[] = [];
  private future: string[] = [];

  constructor(private current: string) {}

  get text(): string {
    return this.current;
  }

  get canUndo(): boolean {
    return this.past.length > 0;
  }

  get canRedo(): boolean {
    return this.future.length > 0;
  }

  /** Records `text` as the new state; a state equal to the current one is not a step. */
  push(text: string): void {
    if (text === this.current) return;
    this.past.push(this.current);
    this.current = text;
    this.future = [];
  }

  /** Steps back; returns the text to show, or null when there is nothing to undo. */
  undo(): string | null {
    const previous = this.past.pop();
    if (previous === undefined) return null;
    this.future.push(this.current);
    this.current = previous;
    return previous;
  }

  /** Steps forward again; returns the text to show, or null when there is nothing to redo. */
  redo(): string | null {
    const next = this.future.pop();
    if (next === undefined) return null;
    this.past.push(this.current);
    this.current = next;
    return next;
  }

  /** Forgets every step, keeping `text` as the only state (after opening another file). */
  reset(text: string): void {
    this.past = [];
    this.future = [];
    this.current = text;
  }
}
