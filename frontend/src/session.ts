import { defineStore } from "pinia";
import { api, setToken, getToken, type Me } from "./api";

export const useSession = defineStore("session", {
  state: () => ({ me: null as Me | null, token: getToken() }),
  getters: {
    isAdmin: (s) => s.me?.role === "ADMIN" || s.me?.role === "SUPER_ADMIN",
  },
  actions: {
    async login(username: string, password: string) {
      const { token, user } = await api.login(username, password);
      setToken(token);
      this.token = token;
      this.me = user;
    },
    async restore(): Promise<boolean> {
      this.token = getToken(); // an SSO login may have stored one since
      if (!this.token) return false;
      try {
        this.me = await api.me();
        return true;
      } catch {
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
