// Writes dist/tucana-version.txt (the FAQ's `curl https://frontend/tucana-version.txt`).
import { readFileSync, writeFileSync } from "node:fs";

// The version comes from the repository's VERSION file, the stack's one version source.
const version = readFileSync(new URL("../../VERSION", import.meta.url), "utf-8").trim();
writeFileSync(new URL("../dist/tucana-version.txt", import.meta.url), `v${version}\n`);
