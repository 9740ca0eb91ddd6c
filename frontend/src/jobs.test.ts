import { describe, expect, it } from "vitest";
import { ApiError, type Job, type JobState } from "./api";
import { finished, followJob } from "./jobs";

function job(state: JobState, progress: number): Job {
  return {
    id: "j1", app: "a", stage: "staging", kind: "preprocess", state, progress, created_by: "b",
    created_at: null, started_at: null, finished_at: null, error: null, log: [],
  };
}

describe("followJob", () => {
  it("polls until the job ends and reports every state", async () => {
    const answers = [job("queued", 0), job("running", 40), job("running", 80), job("succeeded", 100)];
    const seen: string[] = [];
    let waits = 0;
    const last = await followJob({
      load: async () => answers.shift()!,
      onUpdate: (j) => seen.push(`${j.state} ${j.progress}`),
      wait: async () => void waits++,
      stopped: () => false,
    });
    expect(last?.state).toBe("succeeded");
    expect(seen).toEqual(["queued 0", "running 40", "running 80", "succeeded 100"]);
    expect(waits).toBe(3);
  });

  it("stops when the page is left", async () => {
    let polls = 0;
    let left = false;
    const last = await followJob({
      load: async () => job("running", ++polls * 10),
      onUpdate: () => {},
      wait: async () => void (left = polls >= 2),
      stopped: () => left,
    });
    expect(polls).toBe(2);
    expect(last?.progress).toBe(20);
  });

  it("tolerates a few failed polls, then reports the error", async () => {
    const answers: (Job | Error)[] = [new ApiError(0, "unreachable", "down"), job("failed", 50)];
    const last = await followJob({
      load: async () => {
        const next = answers.shift()!;
        if (next instanceof Error) throw next;
        return next;
      },
      onUpdate: () => {},
      wait: async () => {},
      stopped: () => false,
    });
    expect(last?.state).toBe("failed");
    await expect(
      followJob({
        load: async () => {
          throw new ApiError(0, "unreachable", "down");
        },
        onUpdate: () => {},
        wait: async () => {},
        stopped: () => false,
      }),
    ).rejects.toThrow("down");
  });

  it("knows which states are final", () => {
    expect(["queued", "running", "succeeded", "failed"].map((s) => finished(s as JobState))).toEqual([
      false, false, true, true,
    ]);
  });
});
