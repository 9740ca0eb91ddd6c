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
    // Screenshots, PDF exports, printing: one page without chrome (docs/screenshots.md).
    // `toucan-ctl doctor screenshot`'s test page: public, it reads no data.
    { path: "/capture/check", name: "capture-check", component: () => import("./views/CaptureCheckView.vue"), meta: { capture: true, public: true } },
    {
      path: "/capture/apps/:app",
      name: "capture-home",
      component: () => import("./views/CaptureView.vue"),
      props: true,
      meta: { capture: true },
    },
    {
      path: "/capture/apps/:app/stories/:story",
      name: "capture-story",
      component: () => import("./views/CaptureView.vue"),
      props: true,
      meta: { capture: true },
    },
    { path: "/reports", name: "reports", component: () => import("./views/ReportsView.vue") },
    {
      // Every admin screen is a child of AdminView, which shows a 403 page instead to non-admins.
      path: "/settings",
      component: () => import("./views/admin/AdminView.vue"),
      children: [
        { path: "", name: "settings", redirect: { name: "admin-users" } },
        { path: "users", name: "admin-users", component: () => import("./views/admin/UsersView.vue") },
        { path: "groups", name: "admin-groups", component: () => import("./views/admin/GroupsView.vue") },
        { path: "privileges", name: "admin-privileges", component: () => import("./views/admin/PrivilegesView.vue") },
        { path: "apps", name: "admin-apps", component: () => import("./views/admin/AppsView.vue") },
        { path: "instance", name: "admin-instance", component: () => import("./views/admin/InstanceView.vue") },
        { path: ":rest(.*)*", redirect: { name: "admin-users" } },
      ],
    },
    { path: "/:pathMatch(.*)*", redirect: "/" },
  ],
});

router.beforeEach(async (to) => {
  if (to.name === "login" || to.meta.public) return true;
  // The capture view authenticates with the capture token of its address, or the session.
  if (to.meta.capture) {
    const session = useSession();
    if (window.location.hash.includes("capture=") || session.me || (await session.restore())) return true;
    return { name: "login", query: { next: to.fullPath } };
  }
  const session = useSession();
  if (!session.me && !(await session.restore())) return { name: "login", query: { next: to.fullPath } };
  return true;
});
