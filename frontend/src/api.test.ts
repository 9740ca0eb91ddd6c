import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, ApiError, configVersion } from "./api";

// What the page sent, and the answers it gets: a fake fetch.
let sent: { url: string; init: RequestInit }[] = [];
let answers: Response[] = [];

beforeEach(() => {
  sent = [];
  answers = [];
  vi.stubGlobal("window", {});
  vi.stubGlobal("localStorage", { getItem: () => "tok", setItem: () => undefined, removeItem: () => undefined });
  vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
    sent.push({ url, init });
    return answers.shift()!;
  });
});
afterEach(() => vi.unstubAllGlobals());

const ok = (body: unknown, version?: number) =>
  new Response(JSON.stringify(body), { status: 200, headers: version === undefined ? {} : { "X-Config-Version": String(version) } });

describe("config versions", () => {
  it("sends the version read from staging in If-Match, and none to overwrite", async () => {
    answers.push(ok({ slides: [] }, 4), ok({ slides: [] }, 5), ok({ slides: [] }, 6));
    await api.frontConfig("sales", "staging");
    expect(configVersion("sales", "front")).toBe(4);
    await api.putFrontConfig("sales", { slides: [] });
    expect((sent[1].init.headers as Record<string, string>)["If-Match"]).toBe("4");
    expect(configVersion("sales", "front")).toBe(5); // the saved version is the next one read
    await api.putFrontConfig("sales", { slides: [] }, "overwrite");
    expect((sent[2].init.headers as Record<string, string>)["If-Match"]).toBeUndefined();
  });

  it("does not take production's version for staging's, and keeps apps apart", async () => {
    answers.push(ok({}, 9), ok({}, 2));
    await api.frontConfig("costs", "production");
    expect(configVersion("costs", "front")).toBeNull();
    await api.etlConfig("costs");
    expect(configVersion("costs", "etl")).toBe(2);
    expect(configVersion("other", "etl")).toBeNull();
  });

  it("turns a 409 into an ApiError carrying the conflict's details", async () => {
    const details = { kind: "front", expected_version: 1, current_version: 2, updated_by: "bob" };
    answers.push(new Response(JSON.stringify({ error: { code: "config_conflict", message: "saved by bob", details } }), { status: 409 }));
    const error = await api.putFrontConfig("x", {}).catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.code).toBe("config_conflict");
    expect(error.details.updated_by).toBe("bob");
  });

  it("sends the diff's versions with a release", async () => {
    answers.push(ok({ results: {} }));
    await api.release("x", { design: true, data: false }, { configs: { front: 3 }, domain_version: null });
    expect(JSON.parse(String(sent[0].init.body))).toEqual({
      operations: ["release_design"],
      staging_versions: { configs: { front: 3 }, domain_version: null },
    });
  });
});

describe("exportName", () => {
  it("names a download after the chart, safely", async () => {
    const { exportName } = await import("./api");
    expect(exportName("Revenue by country")).toBe("Revenue by country");
    expect(exportName("CA 2024 / 2023 : évolution")).toBe("CA 2024 2023 évolution");
    expect(exportName('../../etc/passwd"')).toBe("etc passwd");
    expect(exportName("")).toBe("data");
    expect(exportName(undefined, "bar")).toBe("bar");
    expect(exportName("x".repeat(200)).length).toBe(80);
  });
});
