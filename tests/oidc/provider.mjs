// The OpenID provider the One Login tests run against: panva's oidc-provider (a certified
// OpenID Connect implementation), configured as GOV.UK One Login runs: authorization code with
// PKCE, the client authenticated by `private_key_jwt`, ES256 ID tokens, and the verified
// identity as a JWT in userinfo (`https://vocab.account.gov.uk/v1/coreIdentityJWT`) signed by
// an identity key published in a DID document.
//
// Environment: PORT, CLIENT_ID, REDIRECT_URI, and KEY_OUT (where the portal's client key is
// written, PKCS#8 PEM; its public half is registered here). Prints one line of JSON when ready.
//
// There is no login page: the test names the account it signs in as in `login_hint`
// (base64url of JSON: {sub, email, names?: [{given: [], family: []}], birthDate?, tamper?}),
// and the interaction completes at once. `tamper` makes the provider misbehave, as an
// attacker in its place would: `forged` (ID token signed with another key under the
// provider's key id), `expired`, `nonce` (another nonce), `audience` (another audience), `issuer` (another issuer),
// `identity-forged` (identity signed with another key).

import { writeFileSync } from 'node:fs';
import * as jose from 'jose';
import Provider from 'oidc-provider';

const IDENTITY_CLAIM = 'https://vocab.account.gov.uk/v1/coreIdentityJWT';
const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const identityIssuer = `${issuer}/identity`;
const clientId = process.env.CLIENT_ID;
const redirectUri = process.env.REDIRECT_URI;

const client = await jose.generateKeyPair('ES256', { extractable: true });
writeFileSync(process.env.KEY_OUT, await jose.exportPKCS8(client.privateKey));
const clientJwk = await jose.exportJWK(client.publicKey);

const signing = await jose.generateKeyPair('ES256', { extractable: true });
const signingKid = 'provider-1';
const signingJwk = {
  ...(await jose.exportJWK(signing.privateKey)),
  kid: signingKid,
  alg: 'ES256',
  use: 'sig',
};
const stranger = await jose.generateKeyPair('ES256');
const identityKey = await jose.generateKeyPair('ES256', { extractable: true });
const did = `did:web:127.0.0.1%3A${port}:identity`;
const identityKid = `${did}#key-1`;
const didDocument = {
  '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/jwk/v1'],
  id: did,
  assertionMethod: [
    {
      type: 'JsonWebKey',
      id: identityKid,
      controller: did,
      publicKeyJwk: await jose.exportJWK(identityKey.publicKey),
    },
  ],
};

/** Accounts named by the tests, by subject. */
const accounts = new Map();

async function coreIdentity(sub, account) {
  const key = account.tamper === 'identity-forged' ? stranger.privateKey : identityKey.privateKey;
  const name = (account.names ?? []).map((n) => ({
    nameParts: [
      ...n.given.map((value) => ({ type: 'GivenName', value })),
      ...n.family.map((value) => ({ type: 'FamilyName', value })),
    ],
  }));
  return new jose.SignJWT({
    vot: 'P2',
    vtm: `${issuer}/trustmark`,
    vc: {
      type: ['VerifiableCredential', 'IdentityCheckCredential'],
      credentialSubject: { name, birthDate: [{ value: account.birthDate }] },
    },
  })
    .setProtectedHeader({ alg: 'ES256', kid: identityKid })
    .setIssuer(identityIssuer)
    .setSubject(sub)
    .setAudience(clientId)
    .setIssuedAt()
    .setNotBefore('0s')
    .setExpirationTime('1h')
    .sign(key);
}

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      id_token_signed_response_alg: 'ES256',
      jwks: { keys: [clientJwk] },
    },
  ],
  jwks: { keys: [signingJwk] },
  scopes: ['openid', 'email'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], [IDENTITY_CLAIM]: null },
  extraParams: ['vtr'],
  features: { claimsParameter: { enabled: true }, devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const account = accounts.get(sub);
    if (!account) return undefined;
    return {
      accountId: sub,
      async claims() {
        const claims = { sub, email: account.email, email_verified: true };
        if (account.birthDate) claims[IDENTITY_CLAIM] = await coreIdentity(sub, account);
        return claims;
      },
    };
  },
});

/** The ID token of a token response, re-signed as the account's `tamper` says. */
async function tampered(idToken) {
  const payload = jose.decodeJwt(idToken);
  const tamper = accounts.get(payload.sub)?.tamper;
  let key = signing.privateKey;
  switch (tamper) {
    case 'forged':
      key = stranger.privateKey;
      break;
    case 'expired':
      payload.iat -= 7200;
      payload.exp = payload.iat + 3600;
      break;
    case 'nonce':
      payload.nonce = 'not-the-nonce-of-this-sign-in';
      break;
    case 'audience':
      payload.aud = 'another-client';
      break;
    case 'issuer':
      payload.iss = 'https://another-issuer.example';
      break;
    default:
      return idToken;
  }
  return new jose.SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: signingKid }).sign(key);
}

provider.use(async (ctx, next) => {
  if (ctx.path === '/identity/.well-known/did.json') {
    ctx.body = didDocument;
    return;
  }
  const interaction = ctx.path.match(/^\/interaction\/[^/]+$/);
  if (interaction && ctx.method === 'GET') {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const account = JSON.parse(Buffer.from(details.params.login_hint, 'base64url').toString());
    accounts.set(account.sub, account);
    const grant = new provider.Grant({ accountId: account.sub, clientId: details.params.client_id });
    grant.addOIDCScope('openid email');
    grant.addOIDCClaims([IDENTITY_CLAIM]);
    const grantId = await grant.save();
    const to = await provider.interactionResult(
      ctx.req,
      ctx.res,
      { login: { accountId: account.sub }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
    ctx.redirect(to);
    return;
  }
  await next();
  if (ctx.path === '/token' && ctx.status === 200 && ctx.body?.id_token) {
    ctx.body = { ...ctx.body, id_token: await tampered(ctx.body.id_token) };
  }
});

provider.listen(port, '127.0.0.1', () => {
  console.log(JSON.stringify({ issuer, identity_issuer: identityIssuer }));
});
