// A real OpenID Connect provider (oidc-provider 8, which runs on Node.js 18 as Debian 12 ships it) for
// the sign-in tests, on loopback only.
//
// Environment: PORT, CLIENTS (JSON list of oidc-provider client metadata).
// Accounts: any login is an account; the login is the e-mail address and the subject.
//   "name@domain#g1,g2"  -> the same person with groups g1 and g2 in the "groups" claim
//   "unverified…"        -> email_verified is false
//   "noverified…"        -> no email_verified claim at all (as Microsoft Entra)
//   "expired…"           -> the id_token is already expired when issued
//   "wrong-nonce…"       -> the id_token carries a nonce other than the one sent
// POST /__test/rotate replaces the signing key (a new kid), as a provider rotating keys does.
// CONFORM_ID_TOKEN_CLAIMS=false puts the e-mail claims into the id_token too; by default (the
// library's, and OpenID Connect Core §5.4) the code flow's id_token carries none of the claims a
// scope asks for: email, name and groups come from the UserInfo endpoint only.
import { createServer } from 'node:http';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.CLIENTS);
const conformIdTokenClaims = process.env.CONFORM_ID_TOKEN_CLAIMS !== 'false';

function newKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };
}

function claimsFor(login) {
  const [email, groups] = login.split('#');
  const claims = {
    sub: login,
    email,
    name: email.split('@')[0].replace(/[._-]/g, ' '),
  };
  if (!email.startsWith('noverified')) claims.email_verified = !email.startsWith('unverified');
  if (groups) claims.groups = groups.split(',').filter(Boolean);
  return claims;
}

function build(key) {
  const provider = new Provider(issuer, {
    clients,
    jwks: { keys: [key] },
    cookies: { keys: ['codo-test-cookie-key'] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
    conformIdTokenClaims,
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    ttl: { IdToken: 600, AccessToken: 600, AuthorizationCode: 60, Interaction: 600, Session: 3600, Grant: 3600 },
    async findAccount(ctx, id) {
      return { accountId: id, async claims() { return claimsFor(id); } };
    },
    // First-party client: consent is implied, so the flow is login and back.
    async loadExistingGrant(ctx) {
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
  });
  provider.proxy = false;
  const issue = provider.IdToken.prototype.issue;
  provider.IdToken.prototype.issue = async function patchedIssue(options = {}) {
    const email = String(this.available.email || '');
    let opts = options;
    if (email.startsWith('expired')) opts = { ...options, expiresAt: Math.floor(Date.now() / 1000) - 600 };
    if (email.startsWith('wrong-nonce')) this.set('nonce', 'not-the-nonce-you-sent');
    return issue.call(this, opts);
  };
  return provider;
}

let current = build(newKey());
let handler = current.callback();

const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/__test/rotate') {
    current = build(newKey());
    handler = current.callback();
    res.writeHead(204).end();
    return;
  }
  handler(req, res);
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${issuer}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
