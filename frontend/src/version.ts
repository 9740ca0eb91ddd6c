// Frontend and backend versions: the login page shows both and warns when majors differ.

export const FRONTEND_VERSION: string = typeof __FRONTEND_VERSION__ === "string" ? __FRONTEND_VERSION__ : "0.0.0";

export function major(version: string): number | null {
  const match = /^v?(\d+)\./.exec(version.trim());
  return match ? Number(match[1]) : null;
}

export function majorsDiffer(frontend: string, backend: string): boolean {
  const a = major(frontend);
  const b = major(backend);
  return a !== null && b !== null && a !== b;
}
