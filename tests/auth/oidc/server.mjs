// The OpenID Connect identity provider of the SSO tests: oidc-provider with the clients and
// accounts of the JSON file given as argument, a login form that checks passwords, and
// consent granted automatically (a first-party IdP).
//   node server.mjs config.json   config: {port, issuer, clients: [...], accounts: {id: {password, claims}}}
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import Provider from "oidc-provider";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
if (config.clockOffsetSeconds) {
  // An identity provider whose clock is wrong, for the clock-skew tests.
  const realNow = Date.now;
  Date.now = () => realNow() + config.clockOffsetSeconds * 1000;
}
const accounts = config.accounts;
const signingKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });

const provider = new Provider(config.issuer, {
  clients: config.clients.map((c) => ({ grant_types: ["authorization_code"], response_types: ["code"], ...c })),
  clientAuthMethods: ["client_secret_basic", "client_secret_post", "client_secret_jwt"],
  jwks: { keys: [{ ...signingKey, kid: "test-key", use: "sig", alg: "RS256" }] },
  cookies: { keys: ["toucan-tests-cookie-key"] },
  pkce: { required: () => true },
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name", "groups"] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(_ctx, id) {
    if (!accounts[id]) return undefined;
    return { accountId: id, claims: async () => accounts[id].claims };
  },
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(ctx.oidc.params.scope);
    await grant.save();
    return grant;
  },
});

function page(uid, error) {
  return `<!doctype html><html><body><h1>Test IdP</h1>${error ? `<p class="error">${error}</p>` : ""}
<form method="post" action="/interaction/${uid}/login">
<input name="login" id="login" placeholder="login"><input name="password" id="password" type="password">
<button type="submit" id="submit">Sign in</button></form></body></html>`;
}

function readForm(req) {
  return new Promise((resolve) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => resolve(Object.fromEntries(new URLSearchParams(body))));
  });
}

const callback = provider.callback();
createServer(async (req, res) => {
  const match = req.url.match(/^\/interaction\/([^/?]+)(\/login)?/);
  if (!match) return callback(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    if (req.method === "GET") {
      res.setHeader("Content-Type", "text/html");
      return res.end(page(details.uid));
    }
    const form = await readForm(req);
    const account = accounts[form.login];
    if (!account || account.password !== form.password) {
      res.setHeader("Content-Type", "text/html");
      return res.end(page(details.uid, "Wrong login or password"));
    }
    await provider.interactionFinished(req, res, { login: { accountId: form.login } }, { mergeWithLastSubmission: false });
  } catch (err) {
    res.statusCode = 500;
    res.end(String(err));
  }
}).listen(config.port, "127.0.0.1", () => console.log(`oidc-provider listening on ${config.issuer}`));
