import { createRouter, createWebHistory } from "vue-router";
import { useSession } from "./session";
import { t } from "./i18n";
import { setPageTitle } from "./pageTitle";

declare module "vue-router" {
  interface RouteMeta {
    /** i18n keys of the page's title, most specific first; pages that show a named thing
     * (an app, a story) set theirs with setPageTitle once they know it. */
    title?: string[];
  }
}

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: "/login", name: "login", component: () => import("./views/LoginView.vue"), meta: { title: ["title.login"] } },
    { path: "/", name: "store", component: () => import("./views/StoreView.vue"), meta: { title: ["title.store"] } },
    { path: "/apps/:app", name: "app", component: () => import("./views/AppView.vue"), props: true },
    { path: "/apps/:app/data", name: "app-data", component: () => import("./views/DataView.vue"), props: true, meta: { title: ["title.data"] } },
    { path: "/apps/:app/releases", name: "app-releases", component: () => import("./views/ReleasesView.vue"), props: true, meta: { title: ["title.releases"] } },
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
        { path: "users", name: "admin-users", component: () => import("./views/admin/UsersView.vue"), meta: { title: ["settings.users", "title.settings"] } },
        { path: "groups", name: "admin-groups", component: () => import("./views/admin/GroupsView.vue"), meta: { title: ["settings.groups", "title.settings"] } },
        { path: "privileges", name: "admin-privileges", component: () => import("./views/admin/PrivilegesView.vue"), meta: { title: ["admin.privileges", "title.settings"] } },
        { path: "apps", name: "admin-apps", component: () => import("./views/admin/AppsView.vue"), meta: { title: ["admin.apps", "title.settings"] } },
        { path: "permissions", name: "admin-permissions", component: () => import("./views/admin/PermissionsView.vue"), meta: { title: ["perm.title", "title.settings"] } },
        { path: "instance", name: "admin-instance", component: () => import("./views/admin/InstanceView.vue"), meta: { title: ["admin.instance", "title.settings"] } },
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

/** The title of a route with a static one (see RouteMeta.title); others start blank. */
export function applyRouteTitle(): void {
  const route = router.currentRoute.value;
  setPageTitle(...(route.meta.title ?? []).map((key) => t(key)));
}

// A new page starts with its route's title; a change of the query alone (a story's filters in
// the address) keeps the title the page set.
router.afterEach((to, from) => {
  if (to.path !== from.path || !from.matched.length) applyRouteTitle();
});
