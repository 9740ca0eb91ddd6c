import { beforeEach, describe, expect, it, vi } from "vitest";
import { createPinia, setActivePinia } from "pinia";
import { ApiError } from "./api";
import { locale } from "./i18n";
import { useSession } from "./session";

const ME = { username: "admin", role: "SUPER_ADMIN", groups: [], privileges: {}, attributes: {}, locale: null };
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

// A backend that keeps the user's language: PATCH /me changes it, /login and /me answer it.
function languageBackend(saved: string | null, { failPatch = false } = {}) {
  const state = { saved, patches: [] as unknown[] };
  const fetch = vi.fn(async (url: string, init: RequestInit) => {
    const path = url.replace("https://api.example.test", "");
    const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status });
    const me = () => ({ ...ME, locale: state.saved });
    if (path === "/login") return json(200, { token: "t0k", user: me() });
    if (path === "/me" && init.method === "PATCH") {
      if (failPatch) return json(503, { error: { code: "unavailable", message: "down" } });
      state.patches.push(JSON.parse(String(init.body)));
      state.saved = (JSON.parse(String(init.body)) as { locale: string | null }).locale;
      return json(200, me());
    }
    if (path === "/me") return json(200, me());
    return json(404, {});
  });
  return { fetch, state };
}

describe("the language kept on the server", () => {
  beforeEach(() => {
    vi.unstubAllGlobals();
    vi.stubGlobal("window", { TC_PARAMS: { API_BASEROUTE: "https://api.example.test/" } });
    vi.stubGlobal("localStorage", memoryStorage());
    setActivePinia(createPinia());
    locale.value = "en";
  });

  it("wins over this browser's choice on login and on page load", async () => {
    vi.stubGlobal("fetch", languageBackend("fr").fetch);
    await useSession().login("admin", "pw");
    expect(locale.value).toBe("fr");
    locale.value = "en"; // this browser chose English meanwhile; a reload restores the session
    expect(await useSession().restore()).toBe(true);
    expect(locale.value).toBe("fr");
  });

  it("leaves this browser's language when the user never chose one (or the server speaks an unknown one)", async () => {
    locale.value = "fr";
    vi.stubGlobal("fetch", languageBackend(null).fetch);
    await useSession().login("admin", "pw");
    expect(locale.value).toBe("fr");
    vi.stubGlobal("fetch", languageBackend("xx").fetch);
    expect(await useSession().restore()).toBe(true);
    expect(locale.value).toBe("fr");
  });

  it("saves a choice on the server, and says when it could not", async () => {
    const backendState = languageBackend(null);
    vi.stubGlobal("fetch", backendState.fetch);
    const session = useSession();
    await session.login("admin", "pw");
    await session.chooseLocale("fr");
    expect(locale.value).toBe("fr");
    expect(backendState.state.patches).toEqual([{ locale: "fr" }]);
    expect(session.me?.locale).toBe("fr");
    expect(session.localeUnsaved).toBe(false);
    await session.chooseLocale("de"); // not a language of the app: nothing changes, nothing sent
    expect(locale.value).toBe("fr");
    expect(backendState.state.patches).toHaveLength(1);

    vi.stubGlobal("fetch", languageBackend("fr", { failPatch: true }).fetch);
    await session.chooseLocale("en");
    expect(locale.value).toBe("en"); // it still applies in this browser
    expect(session.localeUnsaved).toBe(true);
  });

  it("sends nothing before login (the login page)", async () => {
    const { fetch } = languageBackend(null);
    vi.stubGlobal("fetch", fetch);
    await useSession().chooseLocale("fr");
    expect(locale.value).toBe("fr");
    expect(fetch).not.toHaveBeenCalled();
  });
});
