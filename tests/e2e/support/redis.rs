//! A redis-server of the test's own, on its own port, to stop and start under a running portal.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A redis-server of the test's own, on its own port, keeping nothing on disk.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
}

impl RedisServer {
    /// Starts one on a free port; `None` when there is none to run and CI does not require it.
    pub async fn start() -> Option<Self> {
        let mut redis = Self {
            child: None,
            port: super::processes::free_port(),
        };
        if let Err(error) = redis.run().await {
            assert!(
                !super::external_required(),
                "redis-server is required: {error}"
            );
            eprintln!("redis-server cannot run ({error}); skipping");
            return None;
        }
        Some(redis)
    }

    /// Runs (again) on its port, keeping nothing on disk.
    pub async fn run(&mut self) -> std::io::Result<()> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start");
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
