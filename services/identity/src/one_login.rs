//! Sign-in through GOV.UK One Login: the OpenID Connect authorization code flow with PKCE,
//! as One Login runs it, with the portal as a confidential client.
//!
//! - **Start**: a random `state`, `nonce` and PKCE verifier are kept in the session store for
//!   ten minutes under the digest of the state; the browser goes to One Login's authorization
//!   endpoint (from the issuer's discovery document) with the state, the nonce, the verifier's
//!   S256 challenge, and a request for the verified identity when the identity issuer is
//!   configured.
//! - **Complete**: the state is taken from the store (once: a replay finds nothing); the code
//!   is exchanged at the token endpoint, the portal authenticating with a client assertion
//!   signed with its own key (`private_key_jwt`, ES256); the ID token is checked against the
//!   issuer's published keys (signature, `iss`, `aud`, `azp`, `exp`, `nbf`, `nonce`); userinfo
//!   is read with the access token, and its `sub` must be the ID token's. The verified
//!   identity (`https://vocab.account.gov.uk/v1/coreIdentityJWT`), when present, is a JWT
//!   signed by the identity issuer with a key of its DID document: checked for signature,
//!   `iss`, `aud`, `sub`, expiry and a level of confidence of P2 or more, then read for names
//!   and dates of birth.
//! - **Link token**: a One Login account not linked to a TRN is given a random token, kept 15
//!   minutes under its digest, for proving the TRN once with the sign-in details.
//!
//! Nothing of the tokens, codes or claims is logged: only which check failed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::record::v1 as rpb;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use portal_common::FieldViolation;
use portal_common::kv::SessionStore;
use portal_common::sessions::session_id;
use reqwest::Url;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tokio::sync::Mutex;

use crate::error::Error;

/// How long a started sign-in may be completed.
pub const SIGN_IN_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// How long a link token may be used.
pub const LINK_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// The claim holding the verified identity.
pub const IDENTITY_CLAIM: &str = "https://vocab.account.gov.uk/v1/coreIdentityJWT";
/// How long the discovery document and key sets are used before they are read again.
const REFRESH: Duration = Duration::from_secs(60 * 60);
/// The least time between two readings of a key set for a key it did not hold.
const REFETCH_AFTER: Duration = Duration::from_secs(30);
/// Clock skew allowed on `exp`, `nbf` and `iat`.
const LEEWAY_SECONDS: u64 = 60;
/// Algorithms accepted on One Login's tokens: asymmetric only.
const ACCEPTED: [Algorithm; 2] = [Algorithm::ES256, Algorithm::RS256];
/// The longest code, state or link token read.
const MAX_OPAQUE: usize = 2048;

/// How the portal signs in through GOV.UK One Login.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Settings {
    /// One Login's issuer (https://oidc.account.gov.uk/); its discovery document names the
    /// endpoints. Sign-in through One Login is off when unset.
    #[arg(long = "one-login-issuer", env = "PORTAL_ONE_LOGIN_ISSUER")]
    pub issuer: Option<String>,
    /// The portal's client id at One Login.
    #[arg(long = "one-login-client-id", env = "PORTAL_ONE_LOGIN_CLIENT_ID")]
    pub client_id: Option<String>,
    /// PEM file of the EC P-256 private key (PKCS#8) the portal signs its client assertions
    /// with; One Login holds its public half.
    #[arg(long = "one-login-key-file", env = "PORTAL_ONE_LOGIN_KEY_FILE")]
    pub key_file: Option<std::path::PathBuf>,
    /// The redirect URIs registered with One Login, separated by commas.
    #[arg(
        long = "one-login-redirect-uris",
        env = "PORTAL_ONE_LOGIN_REDIRECT_URIS",
        value_delimiter = ','
    )]
    pub redirect_uris: Vec<String>,
    /// The issuer of verified identities (https://identity.account.gov.uk/), whose DID
    /// document (/.well-known/did.json) holds the keys that sign them. When unset, the portal
    /// does not ask for a verified identity, and every account proves its TRN once.
    #[arg(
        long = "one-login-identity-issuer",
        env = "PORTAL_ONE_LOGIN_IDENTITY_ISSUER"
    )]
    pub identity_issuer: Option<String>,
}

/// An issuer URL: https, or http on a loopback address (a provider run for tests).
fn issuer_url(name: &str, value: &str) -> anyhow::Result<Url> {
    let url = Url::parse(value).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if url.scheme() == "https" || (url.scheme() == "http" && loopback) {
        Ok(url)
    } else {
        anyhow::bail!("{name} must be an https URL")
    }
}

/// `base` with `path` after it (`base` may end with a slash or not).
fn below(base: &str, path: &str) -> String {
    format!("{}/{path}", base.trim_end_matches('/'))
}

/// A set of keys read from a URL, kept for an hour, read again for a key it lacks.
struct KeyCache {
    url: String,
    /// How the document read is made a key set.
    shape: fn(serde_json::Value) -> Option<JwkSet>,
    held: Mutex<Option<(JwkSet, Instant)>>,
}

impl KeyCache {
    fn new(url: String, shape: fn(serde_json::Value) -> Option<JwkSet>) -> Self {
        Self {
            url,
            shape,
            held: Mutex::new(None),
        }
    }

    /// The key `kid`, read again when it is not held and the set was read a while ago.
    async fn key(&self, http: &reqwest::Client, kid: &str) -> Result<Jwk, Error> {
        let mut held = self.held.lock().await;
        if let Some((set, read)) = held.as_ref() {
            let key = set.find(kid).cloned();
            let fresh = read.elapsed() < REFRESH;
            match key {
                Some(key) if fresh => return Ok(key),
                None if read.elapsed() < REFETCH_AFTER => {
                    return Err(Error::OneLoginFailed("a token names a key not published"));
                }
                _ => {}
            }
        }
        let document = get_json(http, &self.url, None).await?;
        let set = (self.shape)(document).ok_or(Error::OneLoginUnavailable(
            "a key set could not be read".into(),
        ))?;
        let key = set.find(kid).cloned();
        *held = Some((set, Instant::now()));
        key.ok_or(Error::OneLoginFailed("a token names a key not published"))
    }
}

/// A JWKS document as it is.
fn jwks(document: serde_json::Value) -> Option<JwkSet> {
    serde_json::from_value(document).ok()
}

/// The keys of a DID document's assertion methods, each under its method id (the `kid` of
/// what it signs).
fn did_keys(document: serde_json::Value) -> Option<JwkSet> {
    let methods = document.get("assertionMethod")?.as_array()?;
    let keys = methods
        .iter()
        .filter_map(|method| {
            let id = method.get("id")?.as_str()?.to_owned();
            let mut key: Jwk = serde_json::from_value(method.get("publicKeyJwk")?.clone()).ok()?;
            key.common.key_id = Some(id);
            Some(key)
        })
        .collect();
    Some(JwkSet { keys })
}

/// What the portal reads of the issuer's discovery document.
#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    jwks_uri: String,
}

/// A GET answered with JSON; a refusal or a fault is One Login being unavailable.
async fn get_json<T: DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    bearer: Option<&str>,
) -> Result<T, Error> {
    let mut request = http.get(url).header("accept", "application/json");
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(unreachable)?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(Error::OneLoginFailed("One Login refused the access token"));
    }
    if !status.is_success() {
        return Err(Error::OneLoginUnavailable(format!("HTTP {status}")));
    }
    let body = response.bytes().await.map_err(unreachable)?;
    serde_json::from_slice(&body)
        .map_err(|_| Error::OneLoginUnavailable("an answer was not the JSON expected".into()))
}

fn unreachable(error: reqwest::Error) -> Error {
    // The error names the URL only; never a token or a code.
    Error::OneLoginUnavailable(error.without_url().to_string())
}

/// What a started sign-in keeps until it is completed.
#[derive(Debug, Serialize, Deserialize)]
struct Started {
    nonce: String,
    verifier: String,
    redirect_uri: String,
}

/// What a link token stands for.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    subject: String,
}

/// The claims of an ID token the portal reads (the rest are checked by `Validation`).
#[derive(Debug, Deserialize)]
struct IdClaims {
    sub: String,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    azp: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    id_token: String,
    access_token: String,
}

/// The claims of a verified identity the portal reads.
#[derive(Debug, Deserialize)]
struct IdentityClaims {
    sub: String,
    vot: String,
    vc: Credential,
}

#[derive(Debug, Deserialize)]
struct Credential {
    #[serde(rename = "credentialSubject")]
    subject: CredentialSubject,
}

#[derive(Debug, Default, Deserialize)]
struct CredentialSubject {
    #[serde(default)]
    name: Vec<NameEntry>,
    #[serde(default, rename = "birthDate")]
    birth_date: Vec<DateEntry>,
}

#[derive(Debug, Deserialize)]
struct NameEntry {
    #[serde(rename = "nameParts", default)]
    parts: Vec<NamePart>,
}

#[derive(Debug, Deserialize)]
struct NamePart {
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

#[derive(Debug, Deserialize)]
struct DateEntry {
    value: String,
}

impl From<CredentialSubject> for rpb::VerifiedIdentity {
    fn from(subject: CredentialSubject) -> Self {
        let names = subject
            .name
            .into_iter()
            .map(|name| {
                let of = |kind: &str| -> Vec<String> {
                    name.parts
                        .iter()
                        .filter(|p| p.kind == kind)
                        .map(|p| p.value.clone())
                        .collect()
                };
                rpb::VerifiedName {
                    given_names: of("GivenName"),
                    family_names: of("FamilyName"),
                }
            })
            .collect();
        Self {
            names,
            birth_dates: subject.birth_date.into_iter().map(|d| d.value).collect(),
        }
    }
}

/// Who One Login says signed in.
#[derive(Debug)]
pub struct SignedIn {
    pub subject: String,
    /// The identity One Login verified, when it verified one.
    pub identity: Option<rpb::VerifiedIdentity>,
}

/// The levels of confidence in a verified identity the portal accepts.
fn confident(vot: &str) -> bool {
    matches!(vot, "P2" | "P3" | "P4")
}

/// 256 random bits, base64url.
fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// An opaque value from the caller (a code, a state, a token), or a violation naming it.
pub fn parse_opaque(field: &str, input: &str) -> Result<String, FieldViolation> {
    if input.is_empty() || input.len() > MAX_OPAQUE || !input.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(FieldViolation::new(
            field,
            "must be the value One Login or the portal gave: 1 to 2048 printable characters",
        ));
    }
    Ok(input.to_owned())
}

/// Sign-in through One Login, configured.
pub struct OneLogin {
    issuer: String,
    client_id: String,
    key: EncodingKey,
    redirect_uris: Vec<String>,
    identity_issuer: Option<String>,
    http: reqwest::Client,
    store: Arc<dyn SessionStore>,
    discovery: Mutex<Option<(Arc<Discovery>, Instant)>>,
    keys: Mutex<Option<Arc<KeyCache>>>,
    identity_keys: Option<KeyCache>,
}

impl OneLogin {
    /// Sign-in through One Login as `settings` say, or `None` when no issuer is set.
    pub fn new(settings: &Settings, store: Arc<dyn SessionStore>) -> anyhow::Result<Option<Self>> {
        let Some(issuer) = settings.issuer.as_deref().filter(|i| !i.is_empty()) else {
            return Ok(None);
        };
        issuer_url("PORTAL_ONE_LOGIN_ISSUER", issuer)?;
        let client_id = settings
            .client_id
            .clone()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                anyhow::anyhow!("PORTAL_ONE_LOGIN_CLIENT_ID is needed with an issuer")
            })?;
        let key_file = settings
            .key_file
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("PORTAL_ONE_LOGIN_KEY_FILE is needed with an issuer"))?;
        let pem = std::fs::read(key_file)
            .map_err(|e| anyhow::anyhow!("PORTAL_ONE_LOGIN_KEY_FILE: {e}"))?;
        let key = EncodingKey::from_ec_pem(&pem).map_err(|_| {
            anyhow::anyhow!(
                "PORTAL_ONE_LOGIN_KEY_FILE must hold an EC P-256 private key (PKCS#8 PEM)"
            )
        })?;
        let redirect_uris: Vec<String> = settings
            .redirect_uris
            .iter()
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty())
            .collect();
        if redirect_uris.is_empty() {
            anyhow::bail!("PORTAL_ONE_LOGIN_REDIRECT_URIS is needed with an issuer");
        }
        for uri in &redirect_uris {
            Url::parse(uri).map_err(|e| anyhow::anyhow!("PORTAL_ONE_LOGIN_REDIRECT_URIS: {e}"))?;
        }
        let identity_issuer = settings.identity_issuer.clone().filter(|i| !i.is_empty());
        if let Some(identity_issuer) = &identity_issuer {
            issuer_url("PORTAL_ONE_LOGIN_IDENTITY_ISSUER", identity_issuer)?;
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Some(Self {
            issuer: issuer.to_owned(),
            client_id,
            key,
            redirect_uris,
            identity_keys: identity_issuer
                .as_deref()
                .map(|i| KeyCache::new(below(i, ".well-known/did.json"), did_keys)),
            identity_issuer,
            http,
            store,
            discovery: Mutex::new(None),
            keys: Mutex::new(None),
        }))
    }

    /// The discovery document, read again after an hour; the issuer it names must be the one
    /// configured.
    async fn discovery(&self) -> Result<Arc<Discovery>, Error> {
        let mut held = self.discovery.lock().await;
        if let Some((discovery, read)) = held.as_ref()
            && read.elapsed() < REFRESH
        {
            return Ok(discovery.clone());
        }
        let url = below(&self.issuer, ".well-known/openid-configuration");
        let discovery: Discovery = get_json(&self.http, &url, None).await?;
        if discovery.issuer != self.issuer {
            return Err(Error::OneLoginUnavailable(
                "the discovery document names another issuer".into(),
            ));
        }
        let discovery = Arc::new(discovery);
        *held = Some((discovery.clone(), Instant::now()));
        let mut keys = self.keys.lock().await;
        if keys.as_ref().is_none_or(|k| k.url != discovery.jwks_uri) {
            *keys = Some(Arc::new(KeyCache::new(discovery.jwks_uri.clone(), jwks)));
        }
        Ok(discovery)
    }

    fn state_key(state: &str) -> String {
        format!("dqt:one-login:state:{}", session_id(state))
    }

    fn link_key(token: &str) -> String {
        format!("dqt:one-login:link:{}", session_id(token))
    }

    /// Starts a sign-in that returns to `redirect_uri`.
    pub async fn start(&self, redirect_uri: &str) -> Result<pb::OneLoginAuthorization, Error> {
        if !self.redirect_uris.iter().any(|u| u == redirect_uri) {
            return Err(FieldViolation::new(
                "redirect_uri",
                "is not one of the portal's registered redirect URIs",
            )
            .into());
        }
        let discovery = self.discovery().await?;
        let (state, nonce, verifier) = (random_token(), random_token(), random_token());
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let started = Started {
            nonce: nonce.clone(),
            verifier,
            redirect_uri: redirect_uri.to_owned(),
        };
        let kept =
            serde_json::to_vec(&started).map_err(|e| Error::OneLoginInternal(e.to_string()))?;
        self.store
            .put(&Self::state_key(&state), kept, SIGN_IN_LIFETIME)
            .await?;
        let mut url = Url::parse(&discovery.authorization_endpoint)
            .map_err(|_| Error::OneLoginUnavailable("the authorization endpoint".into()))?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("scope", "openid email")
                .append_pair("client_id", &self.client_id)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("state", &state)
                .append_pair("nonce", &nonce)
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            if self.identity_issuer.is_some() {
                query.append_pair("vtr", r#"["Cl.Cm.P2"]"#).append_pair(
                    "claims",
                    &serde_json::json!({ "userinfo": { IDENTITY_CLAIM: null } }).to_string(),
                );
            } else {
                query.append_pair("vtr", r#"["Cl.Cm"]"#);
            }
        }
        Ok(pb::OneLoginAuthorization {
            authorization_url: url.into(),
            state,
        })
    }

    /// Completes the sign-in `state` started with the `code` One Login returned.
    pub async fn complete(&self, code: &str, state: &str) -> Result<SignedIn, Error> {
        let started: Started = self
            .store
            .take(&Self::state_key(state))
            .await?
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(Error::OneLoginExpired)?;
        let discovery = self.discovery().await?;
        let tokens = self.exchange(&discovery, code, &started).await?;
        let subject = self
            .check_id_token(&tokens.id_token, &started.nonce)
            .await?;
        let userinfo: serde_json::Value = get_json(
            &self.http,
            &discovery.userinfo_endpoint,
            Some(&tokens.access_token),
        )
        .await?;
        if userinfo.get("sub").and_then(|s| s.as_str()) != Some(subject.as_str()) {
            return Err(Error::OneLoginFailed("userinfo is of another subject"));
        }
        let identity = match (
            &self.identity_keys,
            userinfo.get(IDENTITY_CLAIM).and_then(|c| c.as_str()),
        ) {
            (Some(keys), Some(jwt)) => Some(self.check_identity(keys, jwt, &subject).await?),
            _ => None,
        };
        Ok(SignedIn { subject, identity })
    }

    /// The code exchanged for tokens, the portal authenticated by a signed client assertion.
    async fn exchange(
        &self,
        discovery: &Discovery,
        code: &str,
        started: &Started,
    ) -> Result<TokenResponse, Error> {
        let now = chrono::Utc::now().timestamp();
        let claims = serde_json::json!({
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": discovery.token_endpoint,
            "jti": random_token(),
            "iat": now,
            "exp": now + 300,
        });
        let assertion = jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &self.key)
            .map_err(|e| Error::OneLoginInternal(e.to_string()))?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &started.redirect_uri),
            ("code_verifier", &started.verifier),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &assertion),
        ];
        let response = self
            .http
            .post(&discovery.token_endpoint)
            .header("accept", "application/json")
            .form(&form)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        if status.is_client_error() {
            return Err(Error::OneLoginFailed("the token endpoint refused the code"));
        }
        if !status.is_success() {
            return Err(Error::OneLoginUnavailable(format!("HTTP {status}")));
        }
        let body = response.bytes().await.map_err(unreachable)?;
        serde_json::from_slice(&body)
            .map_err(|_| Error::OneLoginFailed("the token response is not the one expected"))
    }

    /// The subject of a valid ID token issued for this sign-in.
    async fn check_id_token(&self, token: &str, nonce: &str) -> Result<String, Error> {
        let keys = self
            .keys
            .lock()
            .await
            .clone()
            .ok_or(Error::OneLoginUnavailable("no key set".into()))?;
        let claims: IdClaims =
            verify(&self.http, &keys, token, &self.issuer, &self.client_id).await?;
        if claims.nonce.as_deref() != Some(nonce) {
            return Err(Error::OneLoginFailed(
                "the ID token's nonce is not this sign-in's",
            ));
        }
        if claims
            .azp
            .as_deref()
            .is_some_and(|azp| azp != self.client_id)
        {
            return Err(Error::OneLoginFailed("the ID token is for another party"));
        }
        Ok(claims.sub)
    }

    /// The names and dates of birth of a valid verified identity of `subject`.
    async fn check_identity(
        &self,
        keys: &KeyCache,
        jwt: &str,
        subject: &str,
    ) -> Result<rpb::VerifiedIdentity, Error> {
        let issuer = self.identity_issuer.as_deref().unwrap_or_default();
        let claims: IdentityClaims = verify(&self.http, keys, jwt, issuer, &self.client_id).await?;
        if claims.sub != subject {
            return Err(Error::OneLoginFailed(
                "the verified identity is of another subject",
            ));
        }
        if !confident(&claims.vot) {
            return Err(Error::OneLoginFailed(
                "the identity was verified with too little confidence",
            ));
        }
        Ok(claims.vc.subject.into())
    }

    /// A new link token for `subject`.
    pub async fn link_token(&self, subject: &str) -> Result<String, Error> {
        let token = random_token();
        let pending = serde_json::to_vec(&Pending {
            subject: subject.to_owned(),
        })
        .map_err(|e| Error::OneLoginInternal(e.to_string()))?;
        self.store
            .put(&Self::link_key(&token), pending, LINK_LIFETIME)
            .await?;
        Ok(token)
    }

    /// The subject a live link token stands for.
    pub async fn linking(&self, token: &str) -> Result<String, Error> {
        self.store
            .get(&Self::link_key(token))
            .await?
            .and_then(|bytes| serde_json::from_slice::<Pending>(&bytes).ok())
            .map(|pending| pending.subject)
            .ok_or(Error::OneLoginExpired)
    }

    /// A link token used: it links nothing more.
    pub async fn linked(&self, token: &str) -> Result<(), Error> {
        self.store.delete(&[Self::link_key(token)]).await?;
        Ok(())
    }
}

/// The claims of `token`, signed with a key of `keys` by an accepted algorithm, issued by
/// `issuer` for `audience`, and within its time.
async fn verify<T: DeserializeOwned>(
    http: &reqwest::Client,
    keys: &KeyCache,
    token: &str,
    issuer: &str,
    audience: &str,
) -> Result<T, Error> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| Error::OneLoginFailed("a token is not a JWT"))?;
    if !ACCEPTED.contains(&header.alg) {
        return Err(Error::OneLoginFailed(
            "a token is signed with an algorithm not accepted",
        ));
    }
    let kid = header
        .kid
        .ok_or(Error::OneLoginFailed("a token names no key"))?;
    let jwk = keys.key(http, &kid).await?;
    let key = DecodingKey::from_jwk(&jwk)
        .map_err(|_| Error::OneLoginFailed("a published key cannot be used"))?;
    let mut validation = Validation::new(header.alg);
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_nbf = true;
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<T>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|error| {
            use jsonwebtoken::errors::ErrorKind;
            Error::OneLoginFailed(match error.kind() {
                ErrorKind::InvalidSignature => "a token's signature is wrong",
                ErrorKind::ExpiredSignature => "a token has expired",
                ErrorKind::ImmatureSignature => "a token is not valid yet",
                ErrorKind::InvalidIssuer => "a token is from another issuer",
                ErrorKind::InvalidAudience => "a token is for another audience",
                ErrorKind::MissingRequiredClaim(_) => "a token lacks a required claim",
                _ => "a token cannot be read",
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_issuers() {
        assert!(issuer_url("x", "https://oidc.account.gov.uk/").is_ok());
        assert!(issuer_url("x", "http://127.0.0.1:4000").is_ok());
        assert!(issuer_url("x", "http://oidc.account.gov.uk/").is_err());
        assert!(issuer_url("x", "not a url").is_err());
    }

    #[test]
    fn did_documents_give_their_assertion_keys_under_their_ids() {
        let document = serde_json::json!({
            "id": "did:web:identity.example",
            "assertionMethod": [{
                "type": "JsonWebKey",
                "id": "did:web:identity.example#key-1",
                "controller": "did:web:identity.example",
                "publicKeyJwk": {
                    "kty": "EC", "crv": "P-256",
                    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
                }
            }, { "id": "no-key" }]
        });
        let set = did_keys(document).unwrap();
        assert_eq!(set.keys.len(), 1);
        assert!(set.find("did:web:identity.example#key-1").is_some());
        assert!(did_keys(serde_json::json!({})).is_none());
    }

    #[test]
    fn opaque_values_are_bounded_and_printable() {
        assert!(parse_opaque("code", "abc-DEF_123").is_ok());
        assert_eq!(parse_opaque("code", "").unwrap_err().field, "code");
        assert!(parse_opaque("state", "a b").is_err());
        assert!(parse_opaque("state", &"a".repeat(2049)).is_err());
        assert!(confident("P2") && !confident("P1") && !confident("P0"));
    }
}
