// Writes dist/tucana-version.txt (the FAQ's `curl https://frontend/tucana-version.txt`).
import { readFileSync, writeFileSync } from "node:fs";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url)));
writeFileSync(new URL("../dist/tucana-version.txt", import.meta.url), `v${version}\n`);
