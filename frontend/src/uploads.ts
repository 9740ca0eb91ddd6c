// Chunked, resumable uploads of data-source files: which bytes to send next, where to resume
// after an error, and the loop that drives a transport (the API in the app, a fake in tests).
import { ApiError, type SourceFile } from "./api";

export const CHUNK_SIZE = 5 * 1024 * 1024;
// The server may answer "send from byte N" a few times in a row (a chunk that half arrived);
// more than this means something else is wrong.
const MAX_RESYNCS = 3;

export interface UploadTransport {
  start(filename: string, size: number): Promise<{ id: string; offset: number }>;
  /** How many bytes of the upload the server has. */
  offset(id: string): Promise<number>;
  /** Send `chunk` at `offset`; returns the server's new offset. `onProgress` gets bytes of this chunk sent. */
  append(id: string, offset: number, chunk: Blob, onProgress: (sent: number) => void): Promise<number>;
  complete(id: string): Promise<SourceFile>;
}

/** The byte range to send after `offset`, or null when the whole file arrived. */
export function nextChunk(offset: number, size: number, chunkSize = CHUNK_SIZE): { start: number; end: number } | null {
  if (!(chunkSize > 0)) throw new RangeError(`The chunk size must be a positive number of bytes, not ${chunkSize}.`);
  if (offset < 0 || offset > size) throw new RangeError(`Offset ${offset} is outside the file (0 to ${size} bytes).`);
  if (offset === size) return null;
  return { start: offset, end: Math.min(size, offset + chunkSize) };
}

/** Whole percent of `total` sent; 100 only when every byte is (an empty file is complete). */
export function percent(sent: number, total: number): number {
  if (total <= 0) return 100;
  return Math.max(0, Math.min(100, Math.floor((sent / total) * 100)));
}

/** The offset the server asks to resume from, when the error says one (409 offset_mismatch, upload_incomplete). */
export function resumeOffset(error: unknown): number | null {
  if (!(error instanceof ApiError) || error.status !== 409) return null;
  const offset = (error.details as { offset?: unknown } | null)?.offset;
  return typeof offset === "number" && offset >= 0 ? offset : null;
}

/** Whether trying again can help: a broken connection, a timeout, a busy or failing server. */
export function retryable(error: unknown): boolean {
  if (!(error instanceof ApiError)) return false;
  return error.status === 0 || error.status === 408 || error.status === 409 || error.status === 429 || error.status >= 500;
}

/** The line of the file the server refused, when it says. */
export function errorLine(error: unknown): number | null {
  if (!(error instanceof ApiError)) return null;
  const line = (error.details as { line?: unknown } | null)?.line;
  return typeof line === "number" && line > 0 ? line : null;
}

/**
 * One file going to the server in chunks. `run()` starts it, or — after an error — asks the
 * server how much arrived and sends the rest. `sent` only counts bytes the server confirmed.
 */
export class ChunkedUpload {
  id: string | null = null;
  sent = 0;

  constructor(
    readonly file: Blob,
    readonly filename: string,
    private readonly transport: UploadTransport,
    private readonly onProgress: (bytes: number) => void = () => {},
    private readonly chunkSize = CHUNK_SIZE,
  ) {}

  get size(): number {
    return this.file.size;
  }

  async run(): Promise<SourceFile> {
    await this.position();
    let resyncs = 0;
    for (;;) {
      const id = this.id as string;
      const chunk = nextChunk(this.sent, this.size, this.chunkSize);
      try {
        if (chunk === null) return await this.transport.complete(id);
        const body = this.file.slice(chunk.start, chunk.end);
        this.sent = await this.transport.append(id, chunk.start, body, (bytes) =>
          this.onProgress(Math.min(chunk.end, chunk.start + bytes)),
        );
        resyncs = 0;
        this.onProgress(this.sent);
      } catch (error) {
        const offset = resumeOffset(error);
        if (offset === null || offset > this.size || ++resyncs > MAX_RESYNCS) {
          this.onProgress(this.sent);
          throw error;
        }
        this.sent = offset;
        this.onProgress(this.sent);
      }
    }
  }

  // Where to send from: a new upload starts at 0; a resumed one asks the server, and starts over
  // when the server no longer knows it (expired or cancelled).
  private async position(): Promise<void> {
    if (this.id !== null) {
      try {
        this.sent = await this.transport.offset(this.id);
        this.onProgress(this.sent);
        return;
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) throw error;
        this.id = null;
      }
    }
    const started = await this.transport.start(this.filename, this.size);
    this.id = started.id;
    this.sent = started.offset;
    this.onProgress(this.sent);
  }
}

/** "4.2 MB", "512 B" — "4,2 Mo" in French. */
export function formatBytes(bytes: number, locale = "en"): string {
  const units = locale.startsWith("fr") ? ["o", "Ko", "Mo", "Go", "To"] : ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${new Intl.NumberFormat(locale, { maximumFractionDigits: digits }).format(value)} ${units[unit]}`;
}
