import { defineStore } from "pinia";
import { ApiError, api, setToken, getToken, type Me } from "./api";
import { LOCALES, locale } from "./i18n";

// An answer the login page explains rather than the page that asked (e.g. a proxy that strips
// the Authorization header: every call after the login answers `missing_authorization`).
const LOGIN_PAGE_PROBLEMS = new Set(["missing_authorization"]);

// The language kept on the server follows the user across devices: it wins over this browser's
// own choice (local storage) on login and page load. None chosen: this browser's applies.
function adoptLocale(me: Me) {
  if (me.locale && LOCALES.includes(me.locale)) locale.value = me.locale;
}

export const useSession = defineStore("session", {
  state: () => ({
    me: null as Me | null,
    token: getToken(),
    problem: null as string | null,
    // The last language chosen could not be saved on the server (it holds in this browser).
    localeUnsaved: false,
  }),
  getters: {
    isAdmin: (s) => s.me?.role === "ADMIN" || s.me?.role === "SUPER_ADMIN",
  },
  actions: {
    async login(username: string, password: string) {
      const { token, user } = await api.login(username, password);
      setToken(token);
      this.token = token;
      // The login itself sends no Authorization header: check the token reaches the backend,
      // so that a proxy stripping it fails here, with its message, not later as an empty page.
      try {
        this.me = await api.me();
      } catch (e) {
        this.forget();
        throw e;
      }
      adoptLocale(this.me);
      this.problem = null;
      return user;
    },
    async restore(): Promise<boolean> {
      this.token = getToken(); // an SSO login may have stored one since
      if (!this.token) return false;
      try {
        this.me = await api.me();
        adoptLocale(this.me);
        this.problem = null;
        return true;
      } catch (e) {
        if (e instanceof ApiError && LOGIN_PAGE_PROBLEMS.has(e.code)) this.problem = e.code;
        this.forget();
        return false;
      }
    },
    /** The user picked a language: shown at once, and saved on the server for their other devices. */
    async chooseLocale(code: string) {
      if (!LOCALES.includes(code)) return;
      locale.value = code;
      if (!this.me) return;
      try {
        this.me = await api.setLocale(code);
        this.localeUnsaved = false;
      } catch {
        // Not saved (offline, session ended): the choice still holds in this browser.
        this.localeUnsaved = true;
      }
    },
    can(app: string, privilege: "view" | "validate" | "contribute"): boolean {
      return Boolean(this.me?.privileges[app]?.includes(privilege));
    },
    async logout() {
      try {
        await api.logout();
      } finally {
        this.forget();
      }
    },
    forget() {
      setToken(null);
      this.token = null;
      this.me = null;
    },
  },
});
