// Undo/redo of an editor's state: snapshots, not diffs. Pure, unit-tested (history.test.ts).

export interface HistoryOptions {
  /** Most snapshots kept behind the present; the oldest go first. */
  limit?: number;
  /** Records under the same `group` within this many ms are one step (typing a word). */
  coalesceMs?: number;
  /** The clock, for tests. */
  now?: () => number;
}

/**
 * The states an editor went through. `record` adds the new present (copied, so later
 * mutations of the caller's object do not rewrite history); `undo` and `redo` move through
 * them and give the state to show. A record after an undo drops the redo branch.
 */
export class History<T> {
  private past: string[] = [];
  private future: string[] = [];
  private present: string;
  private lastGroup: string | null = null;
  private lastAt = -Infinity;
  private readonly limit: number;
  private readonly coalesceMs: number;
  private readonly now: () => number;

  constructor(initial: T, options: HistoryOptions = {}) {
    this.present = JSON.stringify(initial);
    this.limit = options.limit ?? 200;
    this.coalesceMs = options.coalesceMs ?? 800;
    this.now = options.now ?? (() => Date.now());
  }

  get canUndo(): boolean {
    return this.past.length > 0;
  }

  get canRedo(): boolean {
    return this.future.length > 0;
  }

  /** How many steps back and forward exist. */
  get sizes(): { undo: number; redo: number } {
    return { undo: this.past.length, redo: this.future.length };
  }

  current(): T {
    return JSON.parse(this.present) as T;
  }

  /** The new present; nothing happens when it equals the current one. Returns whether a step was added or merged. */
  record(state: T, group?: string): boolean {
    const next = JSON.stringify(state);
    if (next === this.present) return false;
    const at = this.now();
    const merge = group !== undefined && group === this.lastGroup && at - this.lastAt <= this.coalesceMs && this.past.length > 0;
    if (!merge) {
      this.past.push(this.present);
      if (this.past.length > this.limit) this.past.splice(0, this.past.length - this.limit);
    }
    this.present = next;
    this.future = [];
    this.lastGroup = group ?? null;
    this.lastAt = at;
    return true;
  }

  undo(): T | null {
    const previous = this.past.pop();
    if (previous === undefined) return null;
    this.future.push(this.present);
    this.present = previous;
    this.lastGroup = null;
    return this.current();
  }

  redo(): T | null {
    const next = this.future.pop();
    if (next === undefined) return null;
    this.past.push(this.present);
    this.present = next;
    this.lastGroup = null;
    return this.current();
  }

  /** Forget every step: `state` is the only one (after a save, or a reload of theirs). */
  reset(state: T): void {
    this.past = [];
    this.future = [];
    this.present = JSON.stringify(state);
    this.lastGroup = null;
  }
}

/** What a key press asks of the history: Ctrl/Cmd+Z undoes, Ctrl/Cmd+Shift+Z and Ctrl+Y redo. */
export function historyKey(event: { key: string; ctrlKey: boolean; metaKey: boolean; shiftKey: boolean; altKey?: boolean }): "undo" | "redo" | null {
  if (!(event.ctrlKey || event.metaKey) || event.altKey) return null;
  const key = event.key.toLowerCase();
  if (key === "z") return event.shiftKey ? "redo" : "undo";
  if (key === "y" && !event.shiftKey) return "redo";
  return null;
}
