//! Browsers: a page served on localhost signs a teacher in and reads the record through the
//! gateway from headless Chromium, over gRPC-Web (HTTP/1.1) with a maintained client library
//! (@connectrpc/connect-web, bundled by esbuild from `tests/browser`), allowed by CORS; a page of
//! another origin is refused at its preflight; what is not gRPC gets HTTP 415.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::processes::free_port;
use crate::support::{self, Stores};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The test's front end and the browser, when they are installed (`.ci/run` installs them);
/// `None` when not, and not required.
fn tools() -> Option<(PathBuf, PathBuf)> {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let esbuild = web.join("node_modules/.bin/esbuild");
    let chromium = ["chromium", "chromium-browser"].into_iter().find(|name| {
        Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    match (esbuild.exists(), chromium) {
        (true, Some(chromium)) => Some((web, PathBuf::from(chromium))),
        _ => {
            assert!(
                !support::external_required(),
                "the browser test needs chromium and `npm install --prefix tests/browser`"
            );
            eprintln!("chromium or tests/browser/node_modules missing; skipping");
            None
        }
    }
}

/// Serves `dir` on 127.0.0.1:`port` (Python's http.server) until dropped.
struct Page(Child);

impl Page {
    async fn serve(dir: &Path, port: u16) -> Self {
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 serves the page");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self(child)
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the page wrote into `#result` once headless Chromium had loaded `url`. Chromium dumps
/// the page when its time budget is spent; on a loaded machine the calls may not have been
/// answered by then (`pending`), and the page is loaded again, a few times at most.
fn run_page(chromium: &Path, url: &str) -> String {
    let mut result = String::new();
    for _ in 0..5 {
        result = load_page(chromium, url);
        if result != "pending" {
            break;
        }
    }
    result
}

fn load_page(chromium: &Path, url: &str) -> String {
    let profile =
        std::env::temp_dir().join(format!("portal-chromium-{:016x}", rand::random::<u64>()));
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--virtual-time-budget=20000",
            &format!("--user-data-dir={}", profile.display()),
            "--dump-dom",
            url,
        ])
        .output()
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&output.stdout);
    dom.split_once("<div id=\"result\">")
        .and_then(|(_, rest)| rest.split_once("</div>"))
        .map(|(result, _)| result.to_owned())
        .unwrap_or_else(|| panic!("no result in the page: {dom}"))
}

/// One HTTP/1.1 request to the gateway; the response's head, lowercased.
async fn http1(gateway: &str, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(gateway).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await;
    let response = String::from_utf8_lossy(&response).to_lowercase();
    response
        .split_once("\r\n\r\n")
        .map_or(response.clone(), |(head, _)| head.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_reads_the_record_over_grpc_web_and_other_origins_are_refused() {
    let Some((web, chromium)) = tools() else {
        return;
    };
    let page_port = free_port();
    let allowed = format!("http://127.0.0.1:{page_port}");
    let origin = allowed.clone();
    let h = support::start(Stores::Embedded, move |config| {
        config.gateway.cors_allowed_origins = vec![origin.parse().unwrap()];
    })
    .await
    .unwrap();
    let gateway = h.addr(portal_common::component::names::GATEWAY);

    // The front end: bundled from its source, with the API's descriptors beside it.
    let site = std::env::temp_dir().join(format!("portal-page-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&site).unwrap();
    let bundled = Command::new(web.join("node_modules/.bin/esbuild"))
        .args(["app.js", "--bundle", "--format=iife"])
        .arg(format!(
            "--outfile={}",
            site.join("app.bundle.js").display()
        ))
        .current_dir(&web)
        .output()
        .expect("esbuild runs");
    assert!(
        bundled.status.success(),
        "{}",
        String::from_utf8_lossy(&bundled.stderr)
    );
    std::fs::write(site.join("descriptors.bin"), dqt_proto::FILE_DESCRIPTOR_SET).unwrap();
    std::fs::write(
        site.join("index.html"),
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>portal</title></head>\
         <body><div id=\"result\">pending</div><script src=\"app.bundle.js\"></script></body></html>",
    )
    .unwrap();
    let _page = Page::serve(&site, page_port).await;

    let admin = h.sign_in_admin().await;
    let record = h
        .create_teacher(
            &admin,
            dqt_proto::dqt::portal::v1::CreateTeacherRequest {
                first_name: "Carys".into(),
                last_name: "Bevan".into(),
                date_of_birth: "1986-04-21".into(),
                ..Default::default()
            },
        )
        .await;
    let query = format!(
        "index.html?gateway=http://{gateway}&trn={}&surname=Bevan&forename=Carys&dob=1986-04-21",
        record.trn
    );

    // From the allowed origin the page signs in and reads the (masked) record.
    let result = run_page(&chromium, &format!("{allowed}/{query}"));
    assert_eq!(result, format!("OK {} masked=true", record.trn));
    // The same page from another origin (localhost is not 127.0.0.1) is refused by CORS.
    let result = run_page(&chromium, &format!("http://localhost:{page_port}/{query}"));
    assert!(result.starts_with("ERROR"), "{result}");

    // The preflight itself: the allowed origin is told what it may send and read; another is not.
    let preflight = |origin: &str| {
        format!(
            "OPTIONS /dqt.portal.v1.Authentication/SignInTeacher HTTP/1.1\r\nHost: {gateway}\r\n\
             Origin: {origin}\r\nAccess-Control-Request-Method: POST\r\n\
             Access-Control-Request-Headers: content-type,x-grpc-web,authorization\r\n\
             Connection: close\r\n\r\n"
        )
    };
    let answer = http1(&gateway, &preflight(&allowed)).await;
    assert!(
        answer.contains(&format!("access-control-allow-origin: {allowed}")),
        "{answer}"
    );
    assert!(answer.contains("x-grpc-web"), "{answer}");
    let answer = http1(&gateway, &preflight("http://elsewhere.example")).await;
    assert!(!answer.contains("access-control-allow-origin"), "{answer}");

    // What is not gRPC (here Connect's JSON) is HTTP 415, not an INTERNAL gRPC answer.
    let connect = format!(
        "POST /dqt.portal.v1.Authentication/CreateCaptcha HTTP/1.1\r\nHost: {gateway}\r\n\
         Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    let answer = http1(&gateway, &connect).await;
    assert!(answer.starts_with("http/1.1 415"), "{answer}");

    let _ = std::fs::remove_dir_all(&site);
    h.shutdown().await;
}
