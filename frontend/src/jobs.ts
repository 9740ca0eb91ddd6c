// Following a background job (preprocess) until it ends: the page polls GET /jobs/{id}.
import type { Job, JobState } from "./api";

export const POLL_MS = 500;
// A few failed polls in a row (a restarting server) are tolerated; more are reported.
const MAX_POLL_FAILURES = 3;

export function finished(state: JobState): boolean {
  return state === "succeeded" || state === "failed";
}

export interface Follow {
  load: () => Promise<Job>;
  onUpdate: (job: Job) => void;
  /** Resolves when it is time to poll again. */
  wait: () => Promise<void>;
  /** True once nobody looks any more (the page was left): stop polling. */
  stopped: () => boolean;
}

/** Poll a job until it succeeds or fails (or following stops); returns the last state seen. */
export async function followJob({ load, onUpdate, wait, stopped }: Follow): Promise<Job | null> {
  let last: Job | null = null;
  let failures = 0;
  while (!stopped()) {
    try {
      last = await load();
      failures = 0;
    } catch (error) {
      if (++failures > MAX_POLL_FAILURES) throw error;
    }
    if (stopped()) break;
    if (last) {
      onUpdate(last);
      if (finished(last.state)) return last;
    }
    await wait();
  }
  return last;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
