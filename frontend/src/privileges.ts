// "sales=view, hr=contribute" ⇄ {sales: ["view"], hr: ["contribute"]}, for the settings forms.

export function parsePrivileges(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const [app, privilege] = part.split("=").map((p) => p.trim());
    if (!app || !privilege) throw new Error(`"${part}": write app=privilege`);
    (out[app] ??= []).push(privilege);
  }
  return out;
}

export function formatPrivileges(privileges: Record<string, string[]>): string {
  return Object.entries(privileges)
    .flatMap(([app, list]) => list.map((p) => `${app}=${p}`))
    .join(", ");
}
