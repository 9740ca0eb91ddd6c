// Backup & restore of an app (administrators): which backup job to offer for download, and
// what a restore's dry-run report means for the app, in the order an admin decides on it.
import type { Job, RestoreReport } from "./api";

export interface AppContent {
  configs: string[];
  /** "stage: domain, domain" per stage. */
  domains: string[];
  files: string[];
}

export interface RestorePlan {
  action: "create" | "replace";
  app: string;
  sourceApp: string;
  sourceVersion: string;
  /** What the replaced app holds now and loses; null when the restore creates the app. */
  goes: AppContent | null;
  comes: AppContent & { bytes: number };
  privileges: string[];
  skipped: string[];
  secrets: string[];
}

export function stageDomains(domains: Record<string, string[]> | undefined): string[] {
  return Object.entries(domains ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([stage, names]) => `${stage}: ${names.length ? names.join(", ") : "–"}`);
}

export function restorePlan(report: RestoreReport): RestorePlan {
  const before = report.replaced_before ?? {};
  return {
    action: report.replaced ? "replace" : "create",
    app: report.app,
    sourceApp: report.source_app,
    sourceVersion: report.source_version,
    goes: report.replaced
      ? { configs: before.configs ?? [], domains: stageDomains(before.domains), files: before.source_files ?? [] }
      : null,
    comes: {
      configs: report.configs,
      domains: stageDomains(report.domains),
      files: report.source_files,
      bytes: report.storage_bytes,
    },
    privileges: report.privileges,
    skipped: report.privileges_skipped,
    secrets: report.secrets_to_recreate,
  };
}

/** The answer of POST /restore: a job (a restore was queued) or the report (a dry run). */
export function isJob(answer: Job | RestoreReport): answer is Job {
  return "state" in answer && "kind" in answer;
}

/** The newest backup job among an app's jobs (GET /{app}/jobs lists the newest first). */
export function latestBackup(jobs: Job[]): Job | null {
  return jobs.find((job) => job.kind === "backup") ?? null;
}
