import { describe, expect, it } from "vitest";
import {
  MASK,
  applyDiscovery,
  applySamlMetadata,
  checkProvider,
  emptyForm,
  fieldOfPath,
  formToProvider,
  providerIndexOfPath,
  providerToForm,
} from "./adminProviders";

const LOGIN = "https://toucan.example.com/login";

const OIDC = {
  id: "google",
  name: "Google",
  type: "oidc",
  icon: "google",
  config: {
    providerConfig: {
      issuer: "https://accounts.google.com",
      authorization_endpoint: "https://accounts.google.com/o/oauth2/v2/auth",
      token_endpoint: "https://oauth2.googleapis.com/token",
      jwks_uri: "https://www.googleapis.com/oauth2/v3/certs",
      token_endpoint_auth_methods_supported: ["client_secret_post", "client_secret_basic"],
      id_token_signing_alg_values_supported: ["RS256"],
      claims_supported: ["sub"],
    },
    defaultRedirectUrl: LOGIN,
    appCredentials: { client_id: "app", client_secret: MASK },
    userInfoRequest: { method: "GET", headers: { "X-Whatever": "hola" }, user_info_schema: { ignore: ["email_verified"] } },
    mapping: { userTemplate: { privileges: { sales: ["view"] } } },
  },
};

describe("providers ⇄ forms", () => {
  it("keeps what the form does not show and the masked secret", () => {
    const form = providerToForm(OIDC, LOGIN);
    expect([form.type, form.authMethod, form.clientSecret, form.userinfoMethod]).toEqual(["OIDC", "client_secret_post", MASK, "GET"]);
    const back = formToProvider({ ...form, authMethod: "client_secret_basic", scopes: "openid, email, profile" }, OIDC) as typeof OIDC & {
      config: Record<string, any>;
    };
    expect(back.type).toBe("OIDC");
    expect(back.config.providerConfig.token_endpoint_auth_methods_supported).toEqual(["client_secret_basic", "client_secret_post"]);
    expect(back.config.providerConfig.claims_supported).toEqual(["sub"]);
    expect(back.config.userInfoRequest.headers).toEqual({ "X-Whatever": "hola" });
    expect(back.config.userInfoRequest.user_info_schema).toEqual({ ignore: ["email_verified"] });
    expect(back.config.mapping).toEqual({ userTemplate: { privileges: { sales: ["view"] } } });
    expect(back.config.appCredentials).toEqual({ client_id: "app", client_secret: MASK });
    expect(back.config.scopes).toEqual(["openid", "email", "profile"]);
    // The stored provider itself is not changed.
    expect(OIDC.config.providerConfig.token_endpoint_auth_methods_supported[0]).toBe("client_secret_post");
  });

  it("writes a SAML2 provider from its fields", () => {
    const form = {
      ...emptyForm("SAML2", LOGIN),
      id: "corp",
      idpEntityId: "https://idp/metadata",
      ssoUrl: "https://idp/sso",
      idpCert: " MIIC ",
      spEntityId: "https://toucan/saml",
      nameId: ".Email",
    };
    const provider = formToProvider(form) as Record<string, any>;
    expect(provider).toEqual({
      id: "corp",
      type: "SAML2",
      config: {
        defaultRedirectUrl: LOGIN,
        mapping: { nameId: ".Email" },
        idp: {
          entityId: "https://idp/metadata",
          singleSignOnService: { url: "https://idp/sso", binding: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" },
          x509cert: "MIIC",
        },
        sp: { entityId: "https://toucan/saml", NameIDFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified" },
        security: { authnRequestsSigned: false, wantAssertionsSigned: true, signMetadata: false },
      },
    });
    expect(providerToForm(provider, LOGIN)).toEqual({ ...form, idpCert: "MIIC" });
    expect(formToProvider({ ...emptyForm("local", LOGIN), id: "local" })).toEqual({ id: "local", type: "local" });
  });

  it("fills the form from a discovery document and from SAML metadata", () => {
    const form = applyDiscovery(emptyForm("OIDC", LOGIN), {
      issuer: "https://op",
      authorization_endpoint: "https://op/auth",
      token_endpoint: "https://op/token",
      jwks_uri: "https://op/jwks",
      token_endpoint_auth_methods_supported: ["private_key_jwt", "client_secret_post"],
      id_token_signing_alg_values_supported: ["RS256", "ES256"],
    });
    expect([form.issuer, form.tokenEndpoint, form.authMethod, form.signingAlgs]).toEqual([
      "https://op",
      "https://op/token",
      "client_secret_post",
      "RS256, ES256",
    ]);
    const saml = applySamlMetadata(emptyForm("SAML2", LOGIN), {
      entityId: "https://idp",
      singleSignOnService: { url: "https://idp/sso", binding: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" },
      x509cert: "MIIB",
    });
    expect([saml.idpEntityId, saml.ssoUrl, saml.ssoBinding, saml.idpCert]).toEqual([
      "https://idp",
      "https://idp/sso",
      "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
      "MIIB",
    ]);
  });
});

describe("checks and server errors", () => {
  it("names required fields, bad URLs, ids and signing without keys", () => {
    const oidc = { ...emptyForm("OIDC", LOGIN), id: "taken", issuer: "accounts.google.com", scopes: "email" };
    const fields = checkProvider(oidc, ["taken"]).map((p) => [p.field, p.key]);
    expect(fields).toEqual([
      ["id", "sso.problem.idTaken"],
      ["authorizationEndpoint", "sso.problem.required"],
      ["tokenEndpoint", "sso.problem.required"],
      ["jwksUri", "sso.problem.required"],
      ["clientId", "sso.problem.required"],
      ["clientSecret", "sso.problem.required"],
      ["issuer", "sso.problem.url"],
      ["scopes", "sso.problem.openid"],
    ]);
    const saml = { ...emptyForm("SAML2", LOGIN), id: "bad id", idpEntityId: "x", ssoUrl: "https://i/sso", idpCert: "C", spEntityId: "s", signMetadata: true };
    expect(checkProvider(saml, []).map((p) => p.field)).toEqual(["id", "spCert", "spKey"]);
    expect(checkProvider({ ...emptyForm("local", LOGIN), id: "local" }, [])).toEqual([]);
  });

  it("puts a server error on its field and provider", () => {
    expect(fieldOfPath("auth.providers[2].config.appCredentials.client_secret")).toBe("clientSecret");
    expect(fieldOfPath("auth.providers[2].config.appCredentials")).toBe("clientId");
    expect(fieldOfPath("auth.providers[0].config.providerConfig.token_endpoint_auth_methods_supported[0]")).toBe("authMethod");
    expect(fieldOfPath("auth.providers[0].config.providerConfig.token_endpoint")).toBe("tokenEndpoint");
    expect(fieldOfPath("config.idp")).toBe("idpCert");
    expect(fieldOfPath("auth.providers[1].config")).toBe("general");
    expect(providerIndexOfPath("auth.providers[3].id")).toBe(3);
    expect(providerIndexOfPath("auth")).toBeNull();
  });
});
