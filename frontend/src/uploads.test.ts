import { describe, expect, it } from "vitest";
import { ApiError, type SourceFile } from "./api";
import {
  ChunkedUpload,
  errorLine,
  formatBytes,
  nextChunk,
  percent,
  resumeOffset,
  retryable,
  type UploadTransport,
} from "./uploads";

describe("nextChunk", () => {
  it("walks the file chunk by chunk, the last one short", () => {
    const ranges = [];
    let offset = 0;
    for (let c = nextChunk(offset, 25, 10); c; c = nextChunk(offset, 25, 10)) {
      ranges.push([c.start, c.end]);
      offset = c.end;
    }
    expect(ranges).toEqual([[0, 10], [10, 20], [20, 25]]);
  });

  it("has nothing to send for a complete or empty file", () => {
    expect(nextChunk(25, 25, 10)).toBeNull();
    expect(nextChunk(0, 0, 10)).toBeNull();
  });

  it("resumes from any offset the server gives", () => {
    expect(nextChunk(7, 25, 10)).toEqual({ start: 7, end: 17 });
  });

  it("refuses offsets outside the file and empty chunks", () => {
    expect(() => nextChunk(26, 25, 10)).toThrow(/outside the file/);
    expect(() => nextChunk(-1, 25, 10)).toThrow(/outside the file/);
    expect(() => nextChunk(0, 25, 0)).toThrow(/positive/);
  });
});

describe("progress and errors", () => {
  it("shows 100 % only when every byte arrived", () => {
    expect(percent(0, 200)).toBe(0);
    expect(percent(199, 200)).toBe(99);
    expect(percent(200, 200)).toBe(100);
    expect(percent(0, 0)).toBe(100);
  });

  it("reads the resume offset and the refused line from the server's errors", () => {
    expect(resumeOffset(new ApiError(409, "offset_mismatch", "m", { offset: 10 }))).toBe(10);
    expect(resumeOffset(new ApiError(409, "upload_incomplete", "m", { offset: 3, size: 9 }))).toBe(3);
    expect(resumeOffset(new ApiError(400, "invalid_file", "m", { offset: 10 }))).toBeNull();
    expect(resumeOffset(new Error("x"))).toBeNull();
    expect(errorLine(new ApiError(400, "invalid_file", "m", { line: 3 }))).toBe(3);
    expect(errorLine(new ApiError(400, "invalid_file", "m", { line: 0 }))).toBeNull();
    expect(errorLine(new ApiError(400, "invalid_file", "m", null))).toBeNull();
  });

  it("retries broken connections and busy servers, not refused files", () => {
    expect(retryable(new ApiError(0, "unreachable", "m"))).toBe(true);
    expect(retryable(new ApiError(503, "unavailable", "m"))).toBe(true);
    expect(retryable(new ApiError(400, "invalid_file", "m"))).toBe(false);
    expect(retryable(new ApiError(413, "too_large", "m"))).toBe(false);
    expect(retryable(new Error("x"))).toBe(false);
  });

  it("writes sizes people read", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(5 * 1024 * 1024)).toBe("5.2 MB");
    expect(formatBytes(1_500, "fr")).toBe("1,5 Ko");
  });
});

// A server in memory with the real protocol: offsets checked, chunks appended, 409 with the offset.
class FakeServer implements UploadTransport {
  uploads = new Map<string, { name: string; size: number; bytes: number[] }>();
  calls: string[] = [];
  breakNext: ((offset: number) => "drop" | "half" | null) | null = null;
  staleOffset = false;

  async start(filename: string, size: number) {
    const id = `u${this.uploads.size + 1}`;
    this.uploads.set(id, { name: filename, size, bytes: [] });
    this.calls.push(`start ${size}`);
    return { id, offset: 0 };
  }

  async offset(id: string) {
    this.calls.push(`offset ${id}`);
    const upload = this.uploads.get(id);
    if (!upload) throw new ApiError(404, "not_found", `No upload ${id}`);
    return this.staleOffset ? 0 : upload.bytes.length;
  }

  async append(id: string, offset: number, chunk: Blob, onProgress: (sent: number) => void) {
    this.calls.push(`append ${offset}`);
    const upload = this.uploads.get(id)!;
    if (offset !== upload.bytes.length) {
      throw new ApiError(409, "offset_mismatch", "send from there", { offset: upload.bytes.length });
    }
    const data = [...new Uint8Array(await chunk.arrayBuffer())];
    const broken = this.breakNext?.(offset) ?? null;
    if (broken) {
      this.breakNext = null;
      // A connection that broke mid-chunk: part of it may have been stored.
      if (broken === "half") upload.bytes.push(...data.slice(0, Math.floor(data.length / 2)));
      onProgress(Math.floor(data.length / 2));
      throw new ApiError(0, "unreachable", "The connection broke while sending the file.");
    }
    onProgress(data.length);
    upload.bytes.push(...data);
    return upload.bytes.length;
  }

  async complete(id: string): Promise<SourceFile> {
    this.calls.push("complete");
    const upload = this.uploads.get(id)!;
    if (upload.bytes.length !== upload.size) {
      throw new ApiError(409, "upload_incomplete", "incomplete", { offset: upload.bytes.length, size: upload.size });
    }
    const text = new TextDecoder().decode(new Uint8Array(upload.bytes));
    if (text.includes("BAD")) throw new ApiError(400, "invalid_file", "line 2: bad", { line: 2 });
    return { filename: upload.name, size: upload.size, sha256: "", uploaded_at: "", uploaded_by: null, rows: 1 };
  }

  content(id: string): string {
    return new TextDecoder().decode(new Uint8Array(this.uploads.get(id)!.bytes));
  }
}

const TEXT = "country,revenue\nFrance,10\nSpain,20\n"; // 35 bytes

describe("ChunkedUpload", () => {
  it("sends the file in chunks and reports confirmed bytes up to the size", async () => {
    const server = new FakeServer();
    const seen: number[] = [];
    const upload = new ChunkedUpload(new Blob([TEXT]), "sales.csv", server, (b) => seen.push(b), 10);
    const info = await upload.run();
    expect(info.filename).toBe("sales.csv");
    expect(server.content(upload.id!)).toBe(TEXT);
    expect(server.calls).toEqual(["start 35", "append 0", "append 10", "append 20", "append 30", "complete"]);
    expect(seen.at(-1)).toBe(35);
    expect(seen).toEqual([...seen].sort((a, b) => a - b)); // never goes back when nothing failed
  });

  it("after a broken chunk, asks the server where to resume and sends only the rest", async () => {
    const server = new FakeServer();
    const seen: number[] = [];
    const upload = new ChunkedUpload(new Blob([TEXT]), "sales.csv", server, (b) => seen.push(b), 10);
    server.breakNext = (offset) => (offset === 10 ? "half" : null);
    await expect(upload.run()).rejects.toMatchObject({ status: 0 });
    expect(upload.sent).toBe(10);
    expect(seen.at(-1)).toBe(10); // the bar falls back to what the server confirmed
    server.calls = [];
    await upload.run(); // "Retry"
    expect(server.calls).toEqual(["offset u1", "append 15", "append 25", "complete"]);
    expect(server.content("u1")).toBe(TEXT);
  });

  it("follows the server's 409 offset when a chunk starts at the wrong byte", async () => {
    const server = new FakeServer();
    const upload = new ChunkedUpload(new Blob([TEXT]), "sales.csv", server, () => {}, 10);
    server.breakNext = (offset) => (offset === 20 ? "drop" : null);
    await expect(upload.run()).rejects.toBeInstanceOf(ApiError);
    server.staleOffset = true; // the offset it is told is out of date (say, another tab sent more)
    server.calls = [];
    await upload.run();
    expect(server.calls).toEqual(["offset u1", "append 0", "append 20", "append 30", "complete"]);
    expect(server.content("u1")).toBe(TEXT);
  });

  it("starts over when the server forgot the upload", async () => {
    const server = new FakeServer();
    const upload = new ChunkedUpload(new Blob([TEXT]), "sales.csv", server, () => {}, 10);
    server.breakNext = () => "drop";
    await expect(upload.run()).rejects.toBeInstanceOf(ApiError);
    server.uploads.clear();
    await upload.run();
    expect(upload.id).toBe("u1"); // a new session (the map was cleared, so ids restart)
    expect(server.content("u1")).toBe(TEXT);
  });

  it("passes a refused file's error on, with its line", async () => {
    const server = new FakeServer();
    const upload = new ChunkedUpload(new Blob(["a\nBAD\n"]), "bad.csv", server, () => {}, 4);
    const error = await upload.run().catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(retryable(error)).toBe(false);
    expect(errorLine(error)).toBe(2);
    expect(upload.sent).toBe(6);
  });

  it("uploads an empty file with no chunk", async () => {
    const server = new FakeServer();
    const upload = new ChunkedUpload(new Blob([]), "empty.csv", server, () => {}, 10);
    await expect(upload.run()).resolves.toMatchObject({ filename: "empty.csv" });
    expect(server.calls).toEqual(["start 0", "complete"]);
  });

  it("gives up when the server keeps moving the offset", async () => {
    const moving: UploadTransport = {
      start: async () => ({ id: "x", offset: 0 }),
      offset: async () => 0,
      append: async () => {
        throw new ApiError(409, "offset_mismatch", "send from there", { offset: 0 });
      },
      complete: async () => {
        throw new Error("not reached");
      },
    };
    const upload = new ChunkedUpload(new Blob([TEXT]), "sales.csv", moving, () => {}, 10);
    await expect(upload.run()).rejects.toMatchObject({ code: "offset_mismatch" });
  });
});
