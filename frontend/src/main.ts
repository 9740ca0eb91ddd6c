import { createApp } from "vue";
import { createPinia } from "pinia";
import App from "./App.vue";
import { router } from "./router";
import { setToken } from "./api";
import "./style.css";

// SSO logins come back with `#token=…` on whatever page the operator chose: keep it, clean the URL.
const fragment = new URLSearchParams(window.location.hash.slice(1));
if (fragment.get("token")) {
  setToken(fragment.get("token"));
  history.replaceState(null, "", window.location.pathname + window.location.search);
}

createApp(App).use(createPinia()).use(router).mount("#app");
