// Identity providers of the instance settings (auth.providers) as forms: a stored provider ⇄ a
// form of plain fields, what the form checks before sending, and where the server's errors go.
// Keys the form does not show (userTemplate, userinfo headers, claims schema, …) are kept: the
// form's fields are written over a copy of the stored provider.

export type ProviderType = "local" | "OIDC" | "SAML2";
export const PROVIDER_TYPES: ProviderType[] = ["OIDC", "SAML2", "local"];
/** What GET /instance-settings shows instead of a stored secret; sent back, it keeps it. */
export const MASK = "********";
export const AUTH_METHODS = ["client_secret_basic", "client_secret_post", "client_secret_jwt"];
export const SAML_BINDINGS = {
  redirect: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
  post: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
};
export const NAMEID_UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";

type Json = Record<string, unknown>;

export interface ProviderForm {
  type: ProviderType;
  id: string;
  name: string;
  icon: string;
  discrete: boolean;
  // every external provider
  defaultRedirectUrl: string;
  userProvisioning: boolean;
  nameId: string;
  groups: string;
  // OpenID Connect
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  userinfoEndpoint: string;
  jwksUri: string;
  authMethod: string;
  signingAlgs: string;
  clientId: string;
  clientSecret: string;
  scopes: string;
  userinfoMethod: "GET" | "POST";
  useAuthorizationHeader: boolean;
  // SAML2
  metadataUrl: string;
  idpEntityId: string;
  ssoUrl: string;
  ssoBinding: string;
  idpCert: string;
  spEntityId: string;
  nameIdFormat: string;
  spCert: string;
  spKey: string;
  authnRequestsSigned: boolean;
  wantAssertionsSigned: boolean;
  signMetadata: boolean;
}

const obj = (value: unknown): Json => (value && typeof value === "object" && !Array.isArray(value) ? (value as Json) : {});
const str = (value: unknown): string => (typeof value === "string" ? value : "");
const list = (value: unknown): string => (Array.isArray(value) ? value.map(String).join(", ") : "");
const split = (text: string): string[] =>
  text
    .split(",")
    .map((v) => v.trim())
    .filter(Boolean);

export function normaliseType(type: unknown): ProviderType {
  const upper = String(type ?? "").toUpperCase();
  if (upper === "OIDC") return "OIDC";
  if (upper === "SAML2") return "SAML2";
  return "local";
}

export function emptyForm(type: ProviderType, frontendLogin: string): ProviderForm {
  return {
    type,
    id: "",
    name: "",
    icon: "",
    discrete: false,
    defaultRedirectUrl: frontendLogin,
    userProvisioning: true,
    nameId: "",
    groups: "",
    issuer: "",
    authorizationEndpoint: "",
    tokenEndpoint: "",
    userinfoEndpoint: "",
    jwksUri: "",
    authMethod: "client_secret_basic",
    signingAlgs: "RS256",
    clientId: "",
    clientSecret: "",
    scopes: "openid, email",
    userinfoMethod: "POST",
    useAuthorizationHeader: false,
    metadataUrl: "",
    idpEntityId: "",
    ssoUrl: "",
    ssoBinding: SAML_BINDINGS.redirect,
    idpCert: "",
    spEntityId: "",
    nameIdFormat: NAMEID_UNSPECIFIED,
    spCert: "",
    spKey: "",
    authnRequestsSigned: false,
    wantAssertionsSigned: true,
    signMetadata: false,
  };
}

export function providerToForm(raw: Json, frontendLogin = ""): ProviderForm {
  const form = emptyForm(normaliseType(raw.type), frontendLogin);
  const config = obj(raw.config);
  const mapping = obj(config.mapping);
  Object.assign(form, {
    id: str(raw.id),
    name: str(raw.name),
    icon: str(raw.icon),
    discrete: raw.discrete === true,
    defaultRedirectUrl: str(config.defaultRedirectUrl) || frontendLogin,
    userProvisioning: config.user_provisioning !== false,
    nameId: str(mapping.nameId),
    groups: str(mapping.groups),
  });
  if (form.type === "OIDC") {
    const meta = obj(config.providerConfig);
    const credentials = obj(config.appCredentials);
    const userinfo = obj(config.userInfoRequest);
    const methods = Array.isArray(meta.token_endpoint_auth_methods_supported) ? meta.token_endpoint_auth_methods_supported : [];
    Object.assign(form, {
      issuer: str(meta.issuer),
      authorizationEndpoint: str(meta.authorization_endpoint),
      tokenEndpoint: str(meta.token_endpoint),
      userinfoEndpoint: str(meta.userinfo_endpoint),
      jwksUri: str(meta.jwks_uri),
      authMethod: str(methods[0]) || "client_secret_basic",
      signingAlgs: list(meta.id_token_signing_alg_values_supported) || "RS256",
      clientId: str(credentials.client_id),
      clientSecret: str(credentials.client_secret),
      scopes: Array.isArray(config.scopes) ? list(config.scopes) : "openid, email",
      userinfoMethod: str(userinfo.method).toUpperCase() === "GET" ? "GET" : "POST",
      useAuthorizationHeader: obj(userinfo.behavior).use_authorization_header === true,
    });
  } else if (form.type === "SAML2") {
    const idp = obj(config.idp);
    const sp = obj(config.sp);
    const sso = obj(idp.singleSignOnService);
    const security = obj(config.security);
    Object.assign(form, {
      idpEntityId: str(idp.entityId),
      ssoUrl: str(sso.url),
      ssoBinding: str(sso.binding) || SAML_BINDINGS.redirect,
      idpCert: str(idp.x509cert),
      spEntityId: str(sp.entityId),
      nameIdFormat: str(sp.NameIDFormat) || NAMEID_UNSPECIFIED,
      spCert: str(sp.x509cert),
      spKey: str(sp.privateKey),
      authnRequestsSigned: security.authnRequestsSigned === true,
      wantAssertionsSigned: security.wantAssertionsSigned !== false,
      signMetadata: security.signMetadata === true,
    });
  }
  return form;
}

function setOrDrop(target: Json, key: string, value: string) {
  if (value.trim()) target[key] = value.trim();
  else delete target[key];
}

/** The provider as the instance settings store it: `raw` (the stored one, or {}) with the form written over it. */
export function formToProvider(form: ProviderForm, raw: Json = {}): Json {
  const out: Json = JSON.parse(JSON.stringify(raw));
  out.id = form.id.trim();
  out.type = form.type;
  setOrDrop(out, "name", form.name);
  setOrDrop(out, "icon", form.icon);
  if (form.discrete) out.discrete = true;
  else delete out.discrete;
  if (form.type === "local") {
    delete out.config;
    return out;
  }
  const config = obj(out.config);
  out.config = config;
  config.defaultRedirectUrl = form.defaultRedirectUrl.trim();
  if (form.userProvisioning) delete config.user_provisioning;
  else config.user_provisioning = false;
  const mapping = obj(config.mapping);
  setOrDrop(mapping, "nameId", form.nameId);
  setOrDrop(mapping, "groups", form.groups);
  if (Object.keys(mapping).length) config.mapping = mapping;
  else delete config.mapping;
  if (form.type === "OIDC") {
    const meta = obj(config.providerConfig);
    meta.issuer = form.issuer.trim();
    meta.authorization_endpoint = form.authorizationEndpoint.trim();
    meta.token_endpoint = form.tokenEndpoint.trim();
    meta.jwks_uri = form.jwksUri.trim();
    setOrDrop(meta, "userinfo_endpoint", form.userinfoEndpoint);
    // The first method is the one used: the chosen one first, the others the IdP listed after it.
    const methods = Array.isArray(meta.token_endpoint_auth_methods_supported) ? meta.token_endpoint_auth_methods_supported.map(String) : [];
    meta.token_endpoint_auth_methods_supported = [form.authMethod, ...methods.filter((m) => m !== form.authMethod)];
    meta.id_token_signing_alg_values_supported = split(form.signingAlgs);
    config.providerConfig = meta;
    config.appCredentials = { ...obj(config.appCredentials), client_id: form.clientId.trim(), client_secret: form.clientSecret };
    config.scopes = split(form.scopes);
    const userinfo = obj(config.userInfoRequest);
    userinfo.method = form.userinfoMethod;
    userinfo.behavior = { ...obj(userinfo.behavior), use_authorization_header: form.useAuthorizationHeader };
    config.userInfoRequest = userinfo;
  } else {
    const idp = obj(config.idp);
    idp.entityId = form.idpEntityId.trim();
    idp.singleSignOnService = { url: form.ssoUrl.trim(), binding: form.ssoBinding };
    idp.x509cert = form.idpCert.trim();
    config.idp = idp;
    const sp = obj(config.sp);
    sp.entityId = form.spEntityId.trim();
    sp.NameIDFormat = form.nameIdFormat.trim() || NAMEID_UNSPECIFIED;
    setOrDrop(sp, "x509cert", form.spCert);
    if (form.spKey) sp.privateKey = form.spKey === MASK ? MASK : form.spKey.trim();
    else delete sp.privateKey;
    config.sp = sp;
    config.security = {
      ...obj(config.security),
      authnRequestsSigned: form.authnRequestsSigned,
      wantAssertionsSigned: form.wantAssertionsSigned,
      signMetadata: form.signMetadata,
    };
  }
  return out;
}

// --- what the IdP says about itself ----------------------------------------------------------

/** Fill the OIDC fields from a discovery document (keeping the chosen auth method when the IdP offers it). */
export function applyDiscovery(form: ProviderForm, document: Json): ProviderForm {
  const methods = Array.isArray(document.token_endpoint_auth_methods_supported)
    ? document.token_endpoint_auth_methods_supported.map(String).filter((m) => AUTH_METHODS.includes(m))
    : [];
  return {
    ...form,
    issuer: str(document.issuer),
    authorizationEndpoint: str(document.authorization_endpoint),
    tokenEndpoint: str(document.token_endpoint),
    userinfoEndpoint: str(document.userinfo_endpoint),
    jwksUri: str(document.jwks_uri),
    authMethod: methods.includes(form.authMethod) ? form.authMethod : (methods[0] ?? form.authMethod),
    signingAlgs: list(document.id_token_signing_alg_values_supported) || form.signingAlgs,
  };
}

/** Fill the IdP fields from its metadata (the `idp` block the server read). */
export function applySamlMetadata(form: ProviderForm, idp: Json): ProviderForm {
  const sso = obj(idp.singleSignOnService);
  return {
    ...form,
    idpEntityId: str(idp.entityId),
    ssoUrl: str(sso.url),
    ssoBinding: str(sso.binding) || form.ssoBinding,
    idpCert: str(idp.x509cert),
  };
}

// --- checks and errors ---------------------------------------------------------------------

export interface FormProblem {
  field: keyof ProviderForm | "general";
  key: string; // an i18n key under sso.problem.*
  params?: Record<string, string>;
  message?: string; // the server's own words
}

const URL_FIELDS: (keyof ProviderForm)[] = [
  "defaultRedirectUrl",
  "issuer",
  "authorizationEndpoint",
  "tokenEndpoint",
  "userinfoEndpoint",
  "jwksUri",
  "ssoUrl",
];

export function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && Boolean(url.host);
  } catch {
    return false;
  }
}

/** What the form can tell before anything is sent: required fields, URLs, ids. */
export function checkProvider(form: ProviderForm, otherIds: string[]): FormProblem[] {
  const problems: FormProblem[] = [];
  const say = (field: keyof ProviderForm, key: string, params?: Record<string, string>) =>
    problems.push({ field, key: `sso.problem.${key}`, params });
  const id = form.id.trim();
  if (!id) say("id", "required");
  else if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/.test(id)) say("id", "idChars");
  else if (otherIds.includes(id)) say("id", "idTaken", { id });
  if (form.type === "local") return problems;
  const required: (keyof ProviderForm)[] =
    form.type === "OIDC"
      ? ["defaultRedirectUrl", "issuer", "authorizationEndpoint", "tokenEndpoint", "jwksUri", "clientId", "clientSecret"]
      : ["defaultRedirectUrl", "idpEntityId", "ssoUrl", "idpCert", "spEntityId"];
  for (const field of required) if (!String(form[field]).trim()) say(field, "required");
  for (const field of URL_FIELDS) {
    const value = String(form[field]).trim();
    const used = form.type === "OIDC" ? field !== "ssoUrl" : field === "defaultRedirectUrl" || field === "ssoUrl";
    if (used && value && !isHttpUrl(value)) say(field, "url");
  }
  if (form.type === "OIDC" && !split(form.scopes).includes("openid")) say("scopes", "openid");
  if (form.type === "SAML2" && (form.authnRequestsSigned || form.signMetadata)) {
    if (!form.spCert.trim()) say("spCert", "signingNeedsKeys");
    if (!form.spKey.trim()) say("spKey", "signingNeedsKeys");
  }
  return problems;
}

// Server paths (after `auth.providers[i].`) → the form field showing them; the longest prefix wins.
const PATHS: [string, keyof ProviderForm][] = [
  ["id", "id"],
  ["name", "name"],
  ["icon", "icon"],
  ["config.defaultRedirectUrl", "defaultRedirectUrl"],
  ["config.mapping.nameId", "nameId"],
  ["config.mapping.groups", "groups"],
  ["config.providerConfig.issuer", "issuer"],
  ["config.providerConfig.authorization_endpoint", "authorizationEndpoint"],
  ["config.providerConfig.token_endpoint_auth_methods_supported", "authMethod"],
  ["config.providerConfig.token_endpoint", "tokenEndpoint"],
  ["config.providerConfig.userinfo_endpoint", "userinfoEndpoint"],
  ["config.providerConfig.jwks_uri", "jwksUri"],
  ["config.providerConfig.id_token_signing_alg_values_supported", "signingAlgs"],
  ["config.providerConfig", "issuer"],
  ["config.appCredentials.client_secret", "clientSecret"],
  ["config.appCredentials", "clientId"],
  ["config.scopes", "scopes"],
  ["config.idp.entityId", "idpEntityId"],
  ["config.idp.singleSignOnService", "ssoUrl"],
  ["config.idp.x509cert", "idpCert"],
  ["config.idp", "idpCert"],
  ["config.sp.entityId", "spEntityId"],
  ["config.sp.x509cert", "spCert"],
  ["config.sp.privateKey", "spKey"],
  ["config.sp", "spEntityId"],
];

/** The form field a server error's path belongs to (`auth.providers[2].config.idp.x509cert` → idpCert). */
export function fieldOfPath(path: string): keyof ProviderForm | "general" {
  const inner = path.replace(/^auth\.providers\[\d+\]\.?/, "");
  let best: [string, keyof ProviderForm] | null = null;
  for (const entry of PATHS)
    if ((inner === entry[0] || inner.startsWith(entry[0] + ".") || inner.startsWith(entry[0] + "[")) && (!best || entry[0].length > best[0].length))
      best = entry;
  return best ? best[1] : "general";
}

/** The index of the provider a server error names (`auth.providers[2]…` → 2). */
export function providerIndexOfPath(path: string): number | null {
  const match = /^auth\.providers\[(\d+)\]/.exec(path);
  return match ? Number(match[1]) : null;
}
