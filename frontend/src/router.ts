import { createRouter, createWebHistory } from "vue-router";
import { useSession } from "./session";

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: "/login", name: "login", component: () => import("./views/LoginView.vue") },
    { path: "/", name: "store", component: () => import("./views/StoreView.vue") },
    { path: "/apps/:app", name: "app", component: () => import("./views/AppView.vue"), props: true },
    { path: "/apps/:app/data", name: "app-data", component: () => import("./views/DataView.vue"), props: true },
    { path: "/apps/:app/releases", name: "app-releases", component: () => import("./views/ReleasesView.vue"), props: true },
    { path: "/apps/:app/stories/:story", name: "story", component: () => import("./views/AppView.vue"), props: true },
    { path: "/settings", name: "settings", component: () => import("./views/SettingsView.vue") },
    { path: "/:pathMatch(.*)*", redirect: "/" },
  ],
});

router.beforeEach(async (to) => {
  if (to.name === "login") return true;
  const session = useSession();
  if (!session.me && !(await session.restore())) return { name: "login", query: { next: to.fullPath } };
  return true;
});
