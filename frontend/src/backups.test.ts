import { describe, expect, it } from "vitest";
import { attachmentName, restoreQuery, type Job, type RestoreReport } from "./api";
import { isJob, latestBackup, restorePlan, stageDomains } from "./backups";

function report(overrides: Partial<RestoreReport> = {}): RestoreReport {
  return {
    app: "sales-copy", source_app: "sales", source_version: "1.4.0", name: "sales-copy", dry_run: true,
    replaced: false, replaced_before: {}, configs: ["staging etl", "staging front"],
    domains: { staging: ["orders", "sales"], production: [] }, source_files: ["sales.csv"], storage_bytes: 2048,
    privileges: ["user bob: view"], privileges_skipped: ["group ghosts: view"], secrets_to_recreate: ["token"],
    ...overrides,
  };
}

function job(id: string, kind: string): Job {
  return {
    id, app: "sales", stage: null, kind, state: "succeeded", progress: 100, created_by: "admin",
    created_at: null, started_at: null, finished_at: null, error: null,
  };
}

describe("restorePlan", () => {
  it("creates an app: nothing goes, and says what comes, what is skipped and what to recreate", () => {
    const plan = restorePlan(report());
    expect(plan.action).toBe("create");
    expect(plan.goes).toBeNull();
    expect(plan.comes).toEqual({
      configs: ["staging etl", "staging front"], domains: ["production: –", "staging: orders, sales"],
      files: ["sales.csv"], bytes: 2048,
    });
    expect([plan.privileges, plan.skipped, plan.secrets]).toEqual([["user bob: view"], ["group ghosts: view"], ["token"]]);
  });

  it("replaces an app: lists what it holds now", () => {
    const plan = restorePlan(report({
      app: "sales", replaced: true,
      replaced_before: { configs: ["staging front"], domains: { staging: ["old"] }, source_files: [] },
    }));
    expect(plan.action).toBe("replace");
    expect(plan.goes).toEqual({ configs: ["staging front"], domains: ["staging: old"], files: [] });
  });

  it("orders stages and shows an empty one", () => {
    expect(stageDomains({ staging: ["b"], production: [] })).toEqual(["production: –", "staging: b"]);
    expect(stageDomains(undefined)).toEqual([]);
  });
});

describe("restore answers and backup jobs", () => {
  it("tells a queued restore job from a dry-run report", () => {
    expect(isJob(job("j", "restore"))).toBe(true);
    expect(isJob(report())).toBe(false);
  });

  it("offers the newest backup job, not another kind", () => {
    expect(latestBackup([job("p", "preprocess"), job("b2", "backup"), job("b1", "backup")])?.id).toBe("b2");
    expect(latestBackup([job("p", "preprocess")])).toBeNull();
  });

  it("builds the restore query", () => {
    expect(restoreQuery({ dryRun: true })).toBe("?dry_run=true");
    expect(restoreQuery({ newName: " sales copy ", dryRun: false })).toBe("?new_name=sales+copy");
    // A checked backup is restored by its id, under the name it was checked with.
    expect(restoreQuery({ newName: "other", dryRun: false, upload: "0f2e-id" })).toBe("?upload=0f2e-id");
    expect(restoreQuery({ newName: "", dryRun: false })).toBe("");
  });

  it("takes a plain file name from Content-Disposition", () => {
    expect(attachmentName('attachment; filename="sales_on-premise_backup-1a2b3c4d.tar"', "x.tar"))
      .toBe("sales_on-premise_backup-1a2b3c4d.tar");
    expect(attachmentName('attachment; filename="../../etc/passwd"', "x.tar")).toBe("x.tar");
    expect(attachmentName(null, "x.tar")).toBe("x.tar");
  });
});
