// The browser tab's title: what the page shows, most specific first ("Revenue by product ·
// Demo — Sales · Toucan"), so tabs, history and screen readers tell pages apart.
import { ref, watch } from "vue";

export const BRAND = "Toucan";

/** The parts a page names itself by; empty parts are left out. */
export const titleParts = ref<string[]>([]);

export function pageTitle(parts: (string | null | undefined)[]): string {
  return [...parts.map((p) => p?.trim()).filter((p): p is string => !!p), BRAND].join(" · ");
}

/** Called by a page once it knows what it shows (a route's static title is set by the router). */
export function setPageTitle(...parts: (string | null | undefined)[]): void {
  titleParts.value = parts.filter((p): p is string => !!p && !!p.trim());
}

if (typeof document !== "undefined") {
  watch(titleParts, (parts) => (document.title = pageTitle(parts)), { immediate: true });
}
