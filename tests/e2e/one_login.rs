//! Signing in with GOV.UK One Login, against a real OpenID provider the test starts
//! (`tests/oidc`: panva's oidc-provider, shaped as One Login): the whole authorization code
//! flow with PKCE and `private_key_jwt`; an account whose verified identity names one record
//! is linked and signs in at the verified level; one that names none proves its TRN once with
//! the sign-in details; links are one to one, audited, and removed by staff; tokens the
//! provider should not have issued, a replayed state and an unknown redirect URI are refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::portal::v1::administration_client::AdministrationClient;
use dqt_proto::dqt::portal::v1::authentication_client::AuthenticationClient;
use tokio::io::AsyncBufReadExt as _;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

use crate::support::processes::free_port;
use crate::support::{self, Harness, PortalProcess, Stores, authed, bad_fields, sign_in_request};

const CLIENT_ID: &str = "dqt-portal";
const REDIRECT_URI: &str = "https://portal.example/one-login/callback";

/// The provider, running until dropped.
struct Provider {
    child: Child,
    issuer: String,
    identity_issuer: String,
    key_file: PathBuf,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.key_file);
    }
}

impl Provider {
    /// Starts the provider; `None` when it is not installed and not required.
    async fn start() -> Option<Self> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
        if !dir.join("node_modules/oidc-provider").exists() {
            assert!(
                !support::external_required(),
                "the One Login tests need `npm ci --prefix tests/oidc`"
            );
            eprintln!("tests/oidc/node_modules missing; skipping");
            return None;
        }
        let port = free_port();
        let key_file = std::env::temp_dir().join(format!(
            "portal-one-login-{:016x}.pem",
            rand::random::<u64>()
        ));
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(&dir)
            .env("PORT", port.to_string())
            .env("CLIENT_ID", CLIENT_ID)
            .env("REDIRECT_URI", REDIRECT_URI)
            .env("KEY_OUT", &key_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs the provider");
        let stdout = tokio::process::ChildStdout::from_std(child.stdout.take().unwrap()).unwrap();
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the provider starts within 30 s")
            .unwrap()
            .expect("the provider says it is ready");
        // Whatever it writes later goes to the test's output (a closed pipe would stop it).
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("provider: {line}");
            }
        });
        let ready: serde_json::Value = serde_json::from_str(&ready).unwrap();
        Some(Self {
            child,
            issuer: ready["issuer"].as_str().unwrap().to_owned(),
            identity_issuer: ready["identity_issuer"].as_str().unwrap().to_owned(),
            key_file,
        })
    }

    /// The portal's One Login settings for this provider.
    fn settings(&self, identity: bool) -> portal_identity::one_login::Settings {
        portal_identity::one_login::Settings {
            issuer: Some(self.issuer.clone()),
            client_id: Some(CLIENT_ID.into()),
            key_file: Some(self.key_file.clone()),
            redirect_uris: vec!["https://portal.example/other".into(), REDIRECT_URI.into()],
            identity_issuer: identity.then(|| self.identity_issuer.clone()),
        }
    }
}

/// A name One Login verified: given names and family names.
type VerifiedName = (Vec<String>, Vec<String>);

/// A One Login account, as the provider is told to sign it in.
#[derive(Clone)]
struct Account {
    sub: String,
    /// Given and family names, and the date of birth, One Login verified; none when it
    /// verified no identity.
    identity: Option<(Vec<VerifiedName>, String)>,
    tamper: Option<&'static str>,
}

impl Account {
    fn new() -> Self {
        Self {
            sub: format!("urn:fdc:gov.uk:2022:{:016x}", rand::random::<u64>()),
            identity: None,
            tamper: None,
        }
    }

    fn verified(given: &str, family: &str, birth_date: &str) -> Self {
        Self {
            identity: Some((
                vec![(
                    given.split(' ').map(str::to_owned).collect(),
                    vec![family.to_owned()],
                )],
                birth_date.to_owned(),
            )),
            ..Self::new()
        }
    }

    fn tampered(tamper: &'static str) -> Self {
        Self {
            tamper: Some(tamper),
            ..Self::verified("Nobody", "Known", "1990-01-01")
        }
    }

    fn login_hint(&self) -> String {
        let mut hint = serde_json::json!({
            "sub": self.sub,
            "email": "person@example.com",
            "tamper": self.tamper,
        });
        if let Some((names, birth_date)) = &self.identity {
            hint["names"] = names
                .iter()
                .map(|(given, family)| serde_json::json!({ "given": given, "family": family }))
                .collect();
            hint["birthDate"] = birth_date.clone().into();
        }
        URL_SAFE_NO_PAD.encode(hint.to_string())
    }
}

/// A browser signing in as `account`: follows `authorization_url` through the provider,
/// keeping its cookies, until it is sent back to the redirect URI; the query it comes back
/// with.
async fn browse(authorization_url: &str, account: &Account) -> BTreeMap<String, String> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut url = reqwest::Url::parse(authorization_url).unwrap();
    url.query_pairs_mut()
        .append_pair("login_hint", &account.login_hint());
    let mut cookies: BTreeMap<String, String> = BTreeMap::new();
    for _ in 0..10 {
        let cookie = cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let response = http
            .get(url.clone())
            .header("cookie", cookie)
            .send()
            .await
            .expect("the provider answers");
        for set in response.headers().get_all("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            if let Some((name, value)) = pair.split_once('=') {
                cookies.insert(name.trim().to_owned(), value.to_owned());
            }
        }
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        let Some(location) = location else {
            panic!(
                "the provider answered {status} without a redirect: {}",
                response.text().await.unwrap_or_default()
            );
        };
        let next = url.join(&location).unwrap();
        if next.as_str().starts_with(REDIRECT_URI) {
            return next.query_pairs().into_owned().collect();
        }
        url = next;
    }
    panic!("the provider never sent the browser back");
}

async fn start_sign_in(
    gateway: &Channel,
    redirect_uri: &str,
) -> Result<pb::OneLoginAuthorization, Status> {
    AuthenticationClient::new(gateway.clone())
        .start_one_login_sign_in(pb::StartOneLoginSignInRequest {
            redirect_uri: redirect_uri.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn complete(
    gateway: &Channel,
    code: &str,
    state: &str,
) -> Result<pb::SignInResponse, Status> {
    AuthenticationClient::new(gateway.clone())
        .complete_one_login_sign_in(pb::CompleteOneLoginSignInRequest {
            code: code.into(),
            state: state.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// The whole flow for `account`: start, the browser at the provider, complete.
async fn sign_in(gateway: &Channel, account: &Account) -> Result<pb::SignInResponse, Status> {
    let started = start_sign_in(gateway, REDIRECT_URI)
        .await
        .expect("sign-in starts");
    let back = browse(&started.authorization_url, account).await;
    assert_eq!(back["state"], started.state, "One Login returns the state");
    complete(gateway, &back["code"], &back["state"]).await
}

fn reason(status: &Status) -> String {
    status
        .get_details_error_info()
        .map(|info| info.reason)
        .unwrap_or_default()
}

/// The link token of a LINK_REQUIRED answer.
fn link_token(answer: Result<pb::SignInResponse, Status>) -> String {
    let status = answer.expect_err("a link is required");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(reason(&status), "LINK_REQUIRED");
    status
        .get_details_error_info()
        .unwrap()
        .metadata
        .get("link_token")
        .cloned()
        .expect("a link token")
}

fn assert_verified(session: &pb::SignInResponse, trn: &str) {
    let principal = session.principal.as_ref().unwrap();
    assert_eq!(principal.trn, trn);
    assert_eq!(
        principal.assurance_level(),
        pb::AssuranceLevel::Verified,
        "One Login signs in at the verified level"
    );
}

async fn teacher(
    h: &Harness,
    admin: &str,
    first: &str,
    last: &str,
    dob: &str,
) -> pb::TeacherRecord {
    h.create_teacher(
        admin,
        pb::CreateTeacherRequest {
            first_name: first.into(),
            last_name: last.into(),
            date_of_birth: dob.into(),
            ..Default::default()
        },
    )
    .await
}

async fn link(
    gateway: &Channel,
    token: &str,
    record: &pb::TeacherRecord,
) -> Result<pb::SignInResponse, Status> {
    let details = sign_in_request(record);
    AuthenticationClient::new(gateway.clone())
        .link_one_login(pb::LinkOneLoginRequest {
            link_token: token.into(),
            trn: details.trn,
            surname: details.surname,
            forename: details.forename,
            date_of_birth: details.date_of_birth,
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn unlink(h: &Harness, token: &str, trn: &str) -> Result<pb::UnlinkOneLoginResponse, Status> {
    h.admin()
        .unlink_one_login(authed(pb::UnlinkOneLoginRequest { trn: trn.into() }, token))
        .await
        .map(tonic::Response::into_inner)
}

async fn one_login_links_each_way(stores: Stores) {
    let Some(provider) = Provider::start().await else {
        return;
    };
    let settings = provider.settings(true);
    let Some(h) = support::start(stores, |config| config.identity.one_login = settings).await
    else {
        return;
    };
    let admin = h.sign_in_admin().await;
    // No email on this record: One Login is how its teacher reaches the verified level.
    let named = teacher(&h, &admin, "Mary Ann", "O'Brien", "1984-02-29").await;
    let proved = teacher(&h, &admin, "Tomasz", "Nowak", "1979-11-05").await;
    let twin_a = teacher(&h, &admin, "Sam", "Twin", "1990-06-01").await;
    let twin_b = teacher(&h, &admin, "Sam", "Twin", "1990-06-01").await;

    // A verified identity that names one record links it at once, and signs in verified.
    let mary = Account::verified("MARY ANN", "O’Brien", "1984-02-29");
    let session = sign_in(&h.gateway, &mary)
        .await
        .expect("a verified identity signs in");
    assert_verified(&session, &named.trn);
    let record = h
        .portal()
        .get_my_record(authed(pb::GetMyRecordRequest {}, &session.token))
        .await
        .expect("the verified session reads the record")
        .into_inner();
    assert_eq!(record.trn, named.trn);
    let events = h.audit_events(&admin, &named.trn).await;
    let linked = events
        .iter()
        .find(|e| e.action == "one_login.link")
        .expect("the link is audited");
    assert_eq!(linked.actor, "teacher");
    assert!(linked.details.contains("identity verified by One Login"));
    // Linked: the account signs in again, whatever it verified this time.
    let again = Account {
        identity: None,
        ..mary.clone()
    };
    assert_verified(&sign_in(&h.gateway, &again).await.unwrap(), &named.trn);

    // No verified identity: the holder proves the TRN once with the sign-in details.
    let tomasz = Account::new();
    let token = link_token(sign_in(&h.gateway, &tomasz).await);
    // A second sign-in of the same account before it is linked: a second token.
    let second_token = link_token(sign_in(&h.gateway, &tomasz).await);
    let wrong = pb::TeacherRecord {
        last_name: "Kowalski".into(),
        ..proved.clone()
    };
    let refused = link(&h.gateway, &token, &wrong).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert_eq!(reason(&refused), "SIGN_IN_FAILED");
    let session = link(&h.gateway, &token, &proved)
        .await
        .expect("the details link the account");
    assert_verified(&session, &proved.trn);
    let used = link(&h.gateway, &token, &proved).await.unwrap_err();
    assert_eq!(
        (used.code(), reason(&used)),
        (Code::FailedPrecondition, "ONE_LOGIN_EXPIRED".into()),
        "a link token links once"
    );
    assert_verified(&sign_in(&h.gateway, &tomasz).await.unwrap(), &proved.trn);
    // One TRN per account: the account, once linked, cannot link another record.
    let twice = link(&h.gateway, &second_token, &twin_b).await.unwrap_err();
    assert_eq!(
        (twice.code(), reason(&twice)),
        (Code::AlreadyExists, "ALREADY_LINKED".into())
    );
    let events = h.audit_events(&admin, &proved.trn).await;
    assert!(
        events
            .iter()
            .any(|e| e.action == "one_login.link" && e.details.contains("sign-in details"))
    );

    // One account per TRN: another account proving the same TRN is refused.
    let other = link_token(sign_in(&h.gateway, &Account::new()).await);
    let taken = link(&h.gateway, &other, &proved).await.unwrap_err();
    assert_eq!(
        (taken.code(), reason(&taken)),
        (Code::AlreadyExists, "ALREADY_LINKED".into())
    );
    // Another account takes one of the twins' records.
    let token = link_token(sign_in(&h.gateway, &Account::new()).await);
    link(&h.gateway, &token, &twin_a)
        .await
        .expect("twin a linked");

    // An identity that names two records links neither; its holder proves one, and a record
    // linked to another account stays with it.
    let sam = Account::verified("Sam", "Twin", "1990-06-01");
    let token = link_token(sign_in(&h.gateway, &sam).await);
    let taken = link(&h.gateway, &token, &twin_a).await.unwrap_err();
    assert_eq!(reason(&taken), "ALREADY_LINKED");
    assert_verified(
        &link(&h.gateway, &token, &twin_b).await.unwrap(),
        &twin_b.trn,
    );

    // Staff remove a link: the teacher's sessions end, and the account must link again.
    let teacher_token = sign_in(&h.gateway, &tomasz).await.unwrap().token;
    let not_staff = unlink(&h, &teacher_token, &proved.trn).await.unwrap_err();
    assert_eq!(not_staff.code(), Code::PermissionDenied);
    let removed = unlink(&h, &admin, &proved.trn)
        .await
        .expect("the link is removed");
    assert!(removed.revoked_count >= 1, "the teacher's sessions end");
    let ended = h
        .portal()
        .get_my_record(authed(pb::GetMyRecordRequest {}, &teacher_token))
        .await
        .unwrap_err();
    assert_eq!(ended.code(), Code::Unauthenticated);
    let events = h.audit_events(&admin, &proved.trn).await;
    let unlinked = events
        .iter()
        .find(|e| e.action == "one_login.unlink")
        .expect("the unlink is audited");
    assert_eq!(unlinked.actor, "admin");
    link_token(sign_in(&h.gateway, &tomasz).await);
    let none = unlink(&h, &admin, &proved.trn).await.unwrap_err();
    assert_eq!(none.code(), Code::NotFound);
    let bad = unlink(&h, &admin, "12").await.unwrap_err();
    assert_eq!(bad_fields(&bad), ["trn"]);
}

#[tokio::test]
async fn one_login_links_each_way_embedded() {
    one_login_links_each_way(Stores::Embedded).await;
}

#[tokio::test]
async fn one_login_links_each_way_on_postgres_and_redis() {
    one_login_links_each_way(Stores::PostgresRedis).await;
}

/// Every answer the portal must not trust is refused, and sign-in starts again.
#[tokio::test]
async fn what_one_login_should_not_have_issued_is_refused() {
    let Some(provider) = Provider::start().await else {
        return;
    };
    let settings = provider.settings(true);
    let Some(h) = support::start(Stores::Embedded, |config| {
        config.identity.one_login = settings;
    })
    .await
    else {
        return;
    };
    for tamper in [
        "forged",
        "expired",
        "nonce",
        "audience",
        "issuer",
        "identity-forged",
    ] {
        let refused = sign_in(&h.gateway, &Account::tampered(tamper))
            .await
            .unwrap_err();
        assert_eq!(
            (refused.code(), reason(&refused)),
            (Code::Unauthenticated, "ONE_LOGIN_FAILED".into()),
            "{tamper}"
        );
    }

    // A state works once: the same code and state again are refused.
    let started = start_sign_in(&h.gateway, REDIRECT_URI).await.unwrap();
    let back = browse(&started.authorization_url, &Account::new()).await;
    link_token(complete(&h.gateway, &back["code"], &back["state"]).await);
    let replayed = complete(&h.gateway, &back["code"], &back["state"])
        .await
        .unwrap_err();
    assert_eq!(
        (replayed.code(), reason(&replayed)),
        (Code::FailedPrecondition, "ONE_LOGIN_EXPIRED".into())
    );
    let made_up = complete(&h.gateway, "code", "a-state-never-issued")
        .await
        .unwrap_err();
    assert_eq!(reason(&made_up), "ONE_LOGIN_EXPIRED");
    let empty = complete(&h.gateway, "", "").await.unwrap_err();
    assert_eq!(bad_fields(&empty), ["code", "state"]);

    // A code exchanged with another sign-in's state (and so its verifier) is refused by the
    // provider, and that state is used up.
    let first = start_sign_in(&h.gateway, REDIRECT_URI).await.unwrap();
    let second = start_sign_in(&h.gateway, REDIRECT_URI).await.unwrap();
    let back = browse(&first.authorization_url, &Account::new()).await;
    let crossed = complete(&h.gateway, &back["code"], &second.state)
        .await
        .unwrap_err();
    assert_eq!(reason(&crossed), "ONE_LOGIN_FAILED");

    let unknown = start_sign_in(&h.gateway, "https://attacker.example/callback")
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&unknown), ["redirect_uri"]);
    let bad_token = link(&h.gateway, "never-issued", &pb::TeacherRecord::default())
        .await
        .unwrap_err();
    assert_eq!(reason(&bad_token), "ONE_LOGIN_EXPIRED");
}

/// Without an identity issuer the portal asks for no verified identity: every account links
/// once with the sign-in details. Without an issuer, One Login is not offered.
#[tokio::test]
async fn one_login_without_identity_links_by_details_and_unconfigured_is_refused() {
    let Some(provider) = Provider::start().await else {
        return;
    };
    let settings = provider.settings(false);
    let Some(h) = support::start(Stores::Embedded, |config| {
        config.identity.one_login = settings;
    })
    .await
    else {
        return;
    };
    let admin = h.sign_in_admin().await;
    let record = teacher(&h, &admin, "Aoife", "Byrne", "1988-08-08").await;
    let started = start_sign_in(&h.gateway, REDIRECT_URI).await.unwrap();
    let url = reqwest::Url::parse(&started.authorization_url).unwrap();
    let query: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(
        !query.contains_key("claims"),
        "no verified identity asked for"
    );
    let account = Account::verified("Aoife", "Byrne", "1988-08-08");
    let back = browse(&started.authorization_url, &account).await;
    let token = link_token(complete(&h.gateway, &back["code"], &back["state"]).await);
    assert_verified(
        &link(&h.gateway, &token, &record).await.unwrap(),
        &record.trn,
    );

    let Some(plain) = support::start(Stores::Embedded, |_| {}).await else {
        return;
    };
    let off = start_sign_in(&plain.gateway, REDIRECT_URI)
        .await
        .unwrap_err();
    assert_eq!(
        (off.code(), reason(&off)),
        (Code::FailedPrecondition, "ONE_LOGIN_NOT_CONFIGURED".into())
    );
}

/// A `portal up` process with debug logging signs teachers in through One Login both ways; no
/// subject, state, code, token, name or date of birth reaches its logs.
#[tokio::test]
async fn one_login_logs_nothing_personal() {
    const SECRET: &str = "one-login-log-test-secret-2718";
    let Some(provider) = Provider::start().await else {
        return;
    };
    let settings = provider.settings(true);
    let key_file = settings.key_file.clone().unwrap();
    let mut portal = PortalProcess::start(
        &["up"],
        &[
            ("RUST_LOG", "debug"),
            ("PORTAL_ADMIN_CLIENT_SECRET", SECRET),
            ("PORTAL_ONE_LOGIN_ISSUER", &provider.issuer),
            ("PORTAL_ONE_LOGIN_CLIENT_ID", CLIENT_ID),
            ("PORTAL_ONE_LOGIN_KEY_FILE", key_file.to_str().unwrap()),
            ("PORTAL_ONE_LOGIN_REDIRECT_URIS", REDIRECT_URI),
            (
                "PORTAL_ONE_LOGIN_IDENTITY_ISSUER",
                &provider.identity_issuer,
            ),
        ],
    );
    let gateway = portal.channel();
    let admin = AuthenticationClient::new(gateway.clone())
        .sign_in_client(pb::SignInClientRequest {
            client_id: "admin".into(),
            client_secret: SECRET.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .token;
    let mut records = Vec::new();
    for (first, last, dob) in [
        ("Perpetua", "Quixley", "1966-06-16"),
        ("Barnaby", "Vellacott", "1971-01-17"),
    ] {
        let created = AdministrationClient::new(gateway.clone())
            .create_teacher(authed(
                pb::CreateTeacherRequest {
                    first_name: first.into(),
                    last_name: last.into(),
                    date_of_birth: dob.into(),
                    ..Default::default()
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner();
        records.push(created);
    }
    let verified = Account::verified("Perpetua", "Quixley", "1966-06-16");
    let started = start_sign_in(&gateway, REDIRECT_URI).await.unwrap();
    let back = browse(&started.authorization_url, &verified).await;
    let first = complete(&gateway, &back["code"], &back["state"])
        .await
        .expect("linked by verified identity");
    let unverified = Account::new();
    let token = link_token(sign_in(&gateway, &unverified).await);
    let second = link(&gateway, &token, &records[1])
        .await
        .expect("linked by details");

    portal.terminate();
    assert!(portal.wait(Duration::from_secs(10)).await.success());
    let output = portal.output().join("\n");
    assert!(
        output.contains("signed in through One Login"),
        "the run was logged"
    );
    for secret in [
        verified.sub.as_str(),
        unverified.sub.as_str(),
        &started.state,
        &back["code"],
        &token,
        &first.token,
        &second.token,
        "Perpetua",
        "Quixley",
        "1966-06-16",
        "Barnaby",
        "Vellacott",
        "1971-01-17",
    ] {
        assert!(
            !output.contains(secret),
            "the logs hold a value they must not"
        );
    }
}
