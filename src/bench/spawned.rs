//! The portal a run starts for itself: `portal up` in a process of its own.

use std::net::SocketAddr;

use anyhow::Context as _;
use portal_common::Signer;

use super::Target;

/// A portal started for the run, as `portal up` starts, in a process of its own.
pub struct Spawned {
    child: std::process::Child,
    pub target: Target,
}

impl Spawned {
    /// Starts `portal up` with this process's environment (so PostgreSQL and Redis URLs carry
    /// over), a fresh signing key and admin secret, and limits that do not throttle the run.
    pub fn start() -> anyhow::Result<Self> {
        use std::io::{BufRead as _, BufReader};
        let key: String = (0..32)
            .map(|_| format!("{:02x}", rand::random::<u8>()))
            .collect();
        let secret: String = (0..16)
            .map(|_| format!("{:02x}", rand::random::<u8>()))
            .collect();
        let mut command = std::process::Command::new(std::env::current_exe()?);
        command
            .arg("up")
            .env("PORTAL_GATEWAY_ADDR", "127.0.0.1:0")
            .env("PORTAL_INTERNAL_SIGNING_KEY", &key)
            .env("PORTAL_ADMIN_CLIENT_SECRET", &secret)
            .env("PORTAL_EMPLOYER_CHECKS_PER_MINUTE", "4000000000")
            .env("PORTAL_EMPLOYER_CHECKS_PER_DAY", "4000000000")
            .env("PORTAL_TRN_SEARCHES_PER_SOURCE", "4000000000")
            .env("PORTAL_TRN_SEARCHES_PER_EMAIL", "4000000000")
            .env("PORTAL_CAPTCHA", "off")
            // The run's teachers sign in with their details only: the serving path is what is
            // measured, not the step-up.
            .env("PORTAL_VERIFICATION", "off")
            .env("RUST_LOG", "warn,portal=info")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit());
        if std::env::var_os("PORTAL_DATA_DIR").is_none() {
            let dir =
                std::env::temp_dir().join(format!("portal-bench-{:08x}", rand::random::<u32>()));
            command.env("PORTAL_DATA_DIR", dir);
        }
        let mut child = command.spawn().context("starting portal up")?;
        let stdout = child.stdout.take().context("portal's output")?;
        let mut lines = BufReader::new(stdout).lines();
        let (mut gateway, mut record) = (None, None);
        let address = |line: &str, what: &str| -> Option<SocketAddr> {
            line.split_once(&format!("{what} listening on "))?
                .1
                .split('"')
                .next()?
                .parse()
                .ok()
        };
        while gateway.is_none() {
            let line = lines
                .next()
                .context("portal up stopped before it listened")??;
            record = record.or_else(|| address(&line, "record"));
            gateway = address(&line, "gateway");
        }
        // Keep draining its output so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        Ok(Self {
            child,
            target: Target {
                gateway: gateway.context("gateway address")?,
                record,
                signer: Signer::new(key.as_bytes()).map_err(anyhow::Error::msg)?,
                admin_secret: secret,
                record_database: std::env::var("PORTAL_RECORD_DATABASE_URL").ok(),
            },
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops it with SIGTERM, as an operator would.
    pub fn stop(mut self) -> anyhow::Result<()> {
        std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        self.child.wait()?;
        Ok(())
    }
}
