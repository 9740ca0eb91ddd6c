import { defineStore } from "pinia";
import { ApiError, api, setToken, getToken, type Me } from "./api";

// An answer the login page explains rather than the page that asked (e.g. a proxy that strips
// the Authorization header: every call after the login answers `missing_authorization`).
const LOGIN_PAGE_PROBLEMS = new Set(["missing_authorization"]);

export const useSession = defineStore("session", {
  state: () => ({ me: null as Me | null, token: getToken(), problem: null as string | null }),
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
      this.problem = null;
      return user;
    },
    async restore(): Promise<boolean> {
      this.token = getToken(); // an SSO login may have stored one since
      if (!this.token) return false;
      try {
        this.me = await api.me();
        this.problem = null;
        return true;
      } catch (e) {
        if (e instanceof ApiError && LOGIN_PAGE_PROBLEMS.has(e.code)) this.problem = e.code;
        this.forget();
        return false;
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
