import { defineConfig } from "vitest/config";
import vue from "@vitejs/plugin-vue";
import { readFileSync } from "node:fs";

// The stack's one version source, shared with the backend (see docs/upgrading.md).
const version = readFileSync(new URL("../VERSION", import.meta.url), "utf-8").trim();

export default defineConfig({
  plugins: [vue()],
  define: { __FRONTEND_VERSION__: JSON.stringify(version) },
  // The manifest lets bench/frontend measure what each route loads (the editor stays out of viewers' routes).
  build: { outDir: "dist", assetsDir: "assets", sourcemap: false, chunkSizeWarningLimit: 800, manifest: true },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
});
