// The page-level readiness marker screenshots wait on: data-render-complete on <body>.
export function markRendering(): void {
  document.body.dataset.renderComplete = "false";
}

export function markRendered(): void {
  document.body.dataset.renderComplete = "true";
}

/**
 * Counts the charts of one render of a page: complete once every expected chart has
 * reported (rendered or failed). Reports from charts of an earlier render (another story,
 * a chart reported twice) do not count, so the marker never turns true early.
 */
export class RenderTracker {
  private expected = new Set<string>();
  private reported = new Set<string>();

  constructor(private readonly onChange: (complete: boolean) => void) {}

  /** A new render of the charts `keys`: incomplete until each reports (complete at once when none). */
  start(keys: string[]): void {
    this.expected = new Set(keys);
    this.reported = new Set();
    this.onChange(this.complete);
  }

  /** The chart `key` has rendered or failed. */
  done(key: string): void {
    if (!this.expected.has(key) || this.reported.has(key)) return;
    this.reported.add(key);
    if (this.complete) this.onChange(true);
  }

  get complete(): boolean {
    return this.reported.size === this.expected.size;
  }
}
