declare module "*.vue" {
  import type { DefineComponent } from "vue";
  const component: DefineComponent<object, object, unknown>;
  export default component;
}

declare const __FRONTEND_VERSION__: string;

interface Window {
  TC_PARAMS?: { API_BASEROUTE?: string; MIXPANEL_ANALYTICS_ID?: string };
}
