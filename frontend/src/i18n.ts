// English and French strings; the language follows the browser unless chosen.
import { ref } from "vue";

type Dict = Record<string, string>;

const en: Dict = {
  "login.title": "Sign in",
  "login.username": "Username",
  "login.password": "Password",
  "login.submit": "Sign in",
  "login.other": "Other ways to sign in",
  "login.bad": "Wrong username or password.",
  "login.rate": "Too many failed attempts. Try again in {n} seconds.",
  "login.unreachable": "The backend cannot be reached. Check your network, or ask your IT team.",
  "login.stripped":
    "The backend did not receive the Authorization header: a proxy between your browser and the backend may be removing it. Ask your IT team.",
  "login.versionWarning": "Frontend and backend major versions differ: upgrade them together.",
  "store.title": "Your apps",
  "store.search": "Search apps",
  "store.empty": "No app yet. Ask an administrator for access.",
  "store.create": "New app",
  "store.createName": "App name",
  "app.stories": "Stories",
  "app.home": "Home",
  "app.staging": "Staging",
  "app.production": "Production",
  "app.release": "Release staging to production",
  "app.released": "Released: viewers see this version now.",
  "chart.loading": "Loading…",
  "chart.empty": "No data for this selection.",
  "chart.error": "This chart could not load: {m}",
  "nav.logout": "Sign out",
  "nav.store": "Apps",
  "nav.settings": "Settings",
  "settings.users": "Users",
  "settings.groups": "Groups",
  "settings.username": "Username",
  "settings.password": "Password",
  "settings.role": "Role",
  "settings.privileges": "Privileges (app=privilege, …)",
  "settings.add": "Add",
  "settings.delete": "Delete",
  "settings.disable": "Disable",
  "settings.enable": "Enable",
  "settings.groupName": "Group name",
  "settings.download": "Download",
  "settings.upload": "Save",
  "settings.saved": "Saved.",
};

const fr: Dict = {
  "login.title": "Connexion",
  "login.username": "Identifiant",
  "login.password": "Mot de passe",
  "login.submit": "Se connecter",
  "login.other": "Autres moyens de connexion",
  "login.bad": "Identifiant ou mot de passe incorrect.",
  "login.rate": "Trop d'essais infructueux. Réessayez dans {n} secondes.",
  "login.unreachable": "Le serveur est injoignable. Vérifiez votre réseau ou contactez votre service informatique.",
  "login.stripped":
    "Le serveur n'a pas reçu l'en-tête Authorization : un proxy entre votre navigateur et le serveur le supprime peut-être. Contactez votre service informatique.",
  "login.versionWarning": "Les versions majeures du frontend et du backend diffèrent : mettez-les à jour ensemble.",
  "store.title": "Vos applications",
  "store.search": "Rechercher",
  "store.empty": "Aucune application. Demandez un accès à un administrateur.",
  "store.create": "Nouvelle application",
  "store.createName": "Nom de l'application",
  "app.stories": "Histoires",
  "app.home": "Accueil",
  "app.staging": "Brouillon",
  "app.production": "Production",
  "app.release": "Publier en production",
  "app.released": "Publié : les lecteurs voient cette version.",
  "chart.loading": "Chargement…",
  "chart.empty": "Aucune donnée pour cette sélection.",
  "chart.error": "Ce graphique n'a pas pu se charger : {m}",
  "nav.logout": "Se déconnecter",
  "nav.store": "Applications",
  "nav.settings": "Paramètres",
  "settings.users": "Utilisateurs",
  "settings.groups": "Groupes",
  "settings.username": "Identifiant",
  "settings.password": "Mot de passe",
  "settings.role": "Rôle",
  "settings.privileges": "Privilèges (app=privilège, …)",
  "settings.add": "Ajouter",
  "settings.delete": "Supprimer",
  "settings.disable": "Désactiver",
  "settings.enable": "Activer",
  "settings.groupName": "Nom du groupe",
  "settings.download": "Télécharger",
  "settings.upload": "Enregistrer",
  "settings.saved": "Enregistré.",
};

const dictionaries: Record<string, Dict> = { en, fr };
export const locale = ref<string>(
  typeof navigator !== "undefined" && navigator.language?.toLowerCase().startsWith("fr") ? "fr" : "en",
);

export function t(key: string, params: Record<string, string | number> = {}): string {
  const text = dictionaries[locale.value]?.[key] ?? en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name: string) => String(params[name] ?? ""));
}
