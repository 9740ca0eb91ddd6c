// What the admin screens share: the users, groups and apps, read once and again after each change.
import { defineStore } from "pinia";
import { api, type GroupRecord, type SmallApp, type UserRecord } from "./api";

export const useDirectory = defineStore("directory", {
  state: () => ({
    users: [] as UserRecord[],
    groups: [] as GroupRecord[],
    apps: [] as SmallApp[],
    loaded: false,
    error: "",
    notice: "",
  }),
  actions: {
    async load() {
      [this.users, this.groups, this.apps] = await Promise.all([api.users(), api.groups(), api.apps()]);
      this.loaded = true;
    },
    /** Run a change, then read everything again; the error or `notice` is shown above the screen. */
    async run(action: () => Promise<unknown>, notice = ""): Promise<boolean> {
      this.error = "";
      this.notice = "";
      try {
        await action();
      } catch (e) {
        this.error = (e as Error).message;
        return false;
      }
      try {
        await this.load();
      } catch (e) {
        this.error = (e as Error).message;
      }
      // Said once the lists show the change, so what is on screen agrees with the message.
      this.notice = notice;
      return true;
    },
    clearMessages() {
      this.error = "";
      this.notice = "";
    },
  },
});
