//! The emails a test's portal sent: `.eml` files in its outbox folder (no mail server
//! configured), or what a real SMTP server started by the test (Python's aiosmtpd) received
//! into a Maildir.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::external_required;
use super::processes::free_port;

/// One email as received.
#[derive(Debug, Clone)]
pub struct Email {
    pub to: String,
    pub subject: String,
    /// The whole message as it arrived, headers and both bodies.
    pub raw: String,
}

impl Email {
    fn parse(raw: String) -> Self {
        let header = |name: &str| {
            raw.lines()
                .take_while(|line| !line.is_empty())
                .find_map(|line| {
                    line.split_once(':')
                        .filter(|(key, _)| key.eq_ignore_ascii_case(name))
                        .map(|(_, value)| value.trim().to_owned())
                })
                .unwrap_or_default()
        };
        Self {
            to: header("To"),
            subject: header("Subject"),
            raw: raw.clone(),
        }
    }

    /// The message with quoted-printable's soft line breaks joined and `=3D` read as `=`:
    /// what a mail reader shows of an ASCII text body.
    pub fn text(&self) -> String {
        self.raw
            .replace("=\r\n", "")
            .replace("=\n", "")
            .replace("=3D", "=")
    }

    /// The 6-digit code the email carries (after "is ", as every code email says it).
    pub fn code(&self) -> String {
        let at = self.raw.find(" is ").expect("a code email") + 4;
        let code: String = self.raw[at..].chars().take(6).collect();
        assert!(
            code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
            "a 6-digit code"
        );
        code
    }
}

/// Where a test reads the emails its portal sent.
#[derive(Debug, Clone)]
pub struct Mailbox {
    /// Folders whose files are messages.
    folders: Vec<PathBuf>,
}

impl Mailbox {
    /// The outbox folder of a portal with no mail server, under its data folder.
    pub fn outbox(data_dir: &Path) -> Self {
        Self {
            folders: vec![data_dir.join("outbox")],
        }
    }

    /// Every email so far, in the order the files were written.
    pub fn all(&self) -> Vec<Email> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
        for folder in &self.folders {
            let Ok(entries) = std::fs::read_dir(folder) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let hidden = path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'));
                if path.is_file() && !hidden {
                    let written = entry
                        .metadata()
                        .and_then(|m| m.modified())
                        .unwrap_or(std::time::UNIX_EPOCH);
                    files.push((written, path));
                }
            }
        }
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, path)| std::fs::read_to_string(path).ok())
            .map(Email::parse)
            .collect()
    }

    /// The emails to `to`.
    pub fn to(&self, to: &str) -> Vec<Email> {
        self.all().into_iter().filter(|e| e.to == to).collect()
    }

    /// Waits (up to `timeout`) until `to` has received `count` emails, and returns them.
    pub async fn wait_for(&self, to: &str, count: usize, timeout: Duration) -> Vec<Email> {
        let started = Instant::now();
        loop {
            let received = self.to(to);
            if received.len() >= count {
                return received;
            }
            assert!(
                started.elapsed() < timeout,
                "{} of {count} emails arrived in {timeout:?}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The latest email to `to`, waiting for the `count`th.
    pub async fn latest(&self, to: &str, count: usize) -> Email {
        self.wait_for(to, count, Duration::from_secs(20))
            .await
            .pop()
            .unwrap()
    }
}

/// A real SMTP server (aiosmtpd) on a port of its own, delivering into a Maildir. It can be
/// stopped and started again on the same port, as a mail server that goes down.
pub struct SmtpServer {
    pub port: u16,
    maildir: PathBuf,
    child: Option<Child>,
}

impl SmtpServer {
    /// Starts one; `None` when aiosmtpd is missing and the tests do not require it.
    pub async fn start() -> Option<Self> {
        let installed = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            assert!(
                !external_required(),
                "aiosmtpd is required (pip install aiosmtpd)"
            );
            eprintln!("aiosmtpd missing; skipping");
            return None;
        }
        let maildir =
            std::env::temp_dir().join(format!("portal-smtp-{:016x}", rand::random::<u64>()));
        let mut server = Self {
            port: free_port(),
            maildir,
            child: None,
        };
        server.resume().await;
        Some(server)
    }

    /// `smtp://` URL of the server (no TLS).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Where the test reads what it received.
    pub fn mailbox(&self) -> Mailbox {
        Mailbox {
            folders: vec![self.maildir.join("new"), self.maildir.join("cur")],
        }
    }

    /// Stops the server: connections to its port are refused.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on its port, and waits until it takes connections.
    pub async fn resume(&mut self) {
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{}", self.port))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&self.maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts");
        self.child = Some(child);
        let started = Instant::now();
        // Listening, and it is this server that answers (an SMTP greeting), not another.
        while !self.greets().await {
            let exited = self
                .child
                .as_mut()
                .is_some_and(|child| child.try_wait().is_ok_and(|status| status.is_some()));
            assert!(!exited, "aiosmtpd exited: its port was taken");
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "aiosmtpd did not listen"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether an SMTP server greets a connection to the port.
    async fn greets(&self) -> bool {
        use tokio::io::AsyncReadExt as _;
        let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await else {
            return false;
        };
        let mut greeting = [0u8; 4];
        matches!(
            tokio::time::timeout(Duration::from_secs(2), stream.read_exact(&mut greeting)).await,
            Ok(Ok(_)) if &greeting[..3] == b"220"
        )
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}
