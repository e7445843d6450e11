//! The PDF checkers the document tests use: Debian's poppler-utils (pdftotext, pdfinfo) and
//! qpdf. Missing, a check is skipped with a notice, unless CI requires every tool.

use std::path::Path;
use std::process::Command;

/// A PDF tool; `None` (skip) when missing and not required.
pub fn tool(name: &str) -> Option<&str> {
    if Command::new(name).arg("-v").output().is_ok() {
        return Some(name);
    }
    assert!(
        !super::external_required(),
        "{name} is required (apt-get install poppler-utils qpdf)"
    );
    eprintln!("{name} is not installed; skipping its checks");
    None
}

/// The text of a PDF's pages `first` to `last` (all when `None`), words single-spaced as the
/// layout wrapped them.
pub fn text(path: &Path, pages: Option<(u32, u32)>) -> Option<String> {
    let pdftotext = tool("pdftotext")?;
    let mut command = Command::new(pdftotext);
    if let Some((first, last)) = pages {
        command.args(["-f", &first.to_string(), "-l", &last.to_string()]);
    }
    let out = command
        .args(["-enc", "UTF-8"])
        .arg(path)
        .arg("-")
        .output()
        .unwrap();
    assert!(out.status.success());
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// A PDF written to a file of its own under the temporary folder, removed when dropped.
pub struct TempPdf(pub std::path::PathBuf);

impl TempPdf {
    pub fn new(bytes: &[u8]) -> Self {
        let path = std::env::temp_dir().join(format!("portal-pdf-{:x}.pdf", rand::random::<u64>()));
        std::fs::write(&path, bytes).unwrap();
        Self(path)
    }
}

impl Drop for TempPdf {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
