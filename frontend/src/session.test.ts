import { beforeEach, describe, expect, it, vi } from "vitest";
import { createPinia, setActivePinia } from "pinia";
import { ApiError } from "./api";
import { useSession } from "./session";

const ME = { username: "admin", role: "SUPER_ADMIN", groups: [], privileges: {}, attributes: {} };
const STRIPPED = { error: { code: "missing_authorization", message: "This request has no Authorization header." } };

// A backend behind a proxy: `stripping` drops the Authorization header of every request.
function backend(stripping: boolean) {
  const seen: { path: string; authorization: string | null }[] = [];
  const fetch = vi.fn(async (url: string, init: RequestInit) => {
    const path = url.replace("https://api.example.test", "");
    const given = (init.headers as Record<string, string>).Authorization ?? null;
    const authorization = stripping ? null : given;
    seen.push({ path, authorization });
    const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status });
    if (path === "/login") return json(200, { token: "t0k", user: ME });
    if (path === "/me") return authorization === "Bearer t0k" ? json(200, ME) : json(401, STRIPPED);
    return json(404, {});
  });
  return { fetch, seen };
}

function memoryStorage() {
  const items = new Map<string, string>();
  return {
    getItem: (k: string) => items.get(k) ?? null,
    setItem: (k: string, v: string) => void items.set(k, v),
    removeItem: (k: string) => void items.delete(k),
  };
}

describe("session", () => {
  beforeEach(() => {
    vi.unstubAllGlobals();
    vi.stubGlobal("window", { TC_PARAMS: { API_BASEROUTE: "https://api.example.test/" } });
    vi.stubGlobal("localStorage", memoryStorage());
    setActivePinia(createPinia());
  });

  it("logs in when the token reaches the backend", async () => {
    const { fetch, seen } = backend(false);
    vi.stubGlobal("fetch", fetch);
    const session = useSession();
    await session.login("admin", "pw");
    expect(session.me?.username).toBe("admin");
    expect(seen.map((s) => s.path)).toEqual(["/login", "/me"]);
    expect(seen[1].authorization).toBe("Bearer t0k");
  });

  it("fails the login with missing_authorization behind a proxy that strips the header", async () => {
    vi.stubGlobal("fetch", backend(true).fetch);
    const session = useSession();
    const failed = await session.login("admin", "pw").catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(ApiError);
    expect((failed as ApiError).code).toBe("missing_authorization");
    expect(session.me).toBeNull();
    expect(localStorage.getItem("toucan.token")).toBeNull();
  });

  it("keeps the reason a stored session could not be restored, for the login page", async () => {
    vi.stubGlobal("fetch", backend(true).fetch);
    localStorage.setItem("toucan.token", "t0k");
    const session = useSession();
    expect(await session.restore()).toBe(false);
    expect(session.problem).toBe("missing_authorization");
  });
});
