//! Captchas: a PNG of random text, answered once within five minutes, case-insensitively.
//! The answer is kept in the session store under a random id.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dqt_proto::dqt::portal::v1 as pb;
use portal_common::kv::SessionStore;

use crate::error::Error;

/// How long a captcha can be answered.
pub const CAPTCHA_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// Characters that do not look like one another in the captcha font (no 1/l/I, 0/O, 2/Z,
/// 5/S, 8/B, 9/g).
const CHARACTERS: [char; 22] = [
    'A', 'C', 'D', 'E', 'F', 'H', 'J', 'K', 'M', 'N', 'P', 'R', 'T', 'U', 'V', 'W', 'X', 'Y', '3',
    '4', '6', '7',
];
const LENGTH: u32 = 5;

fn key(id: &str) -> String {
    format!("dqt:captcha:{id}")
}

/// The form answers are compared in.
fn normalise(answer: &str) -> String {
    answer
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Draws text and its picture; CPU work, run on the blocking pool.
fn draw() -> Option<(String, Vec<u8>)> {
    use captcha::filters::{Dots, Noise, Wave};
    captcha::Captcha::new()
        .set_chars(&CHARACTERS)
        .add_chars(LENGTH)
        .apply_filter(Noise::new(0.2))
        .apply_filter(Wave::new(2.0, 16.0).horizontal())
        .view(220, 100)
        .apply_filter(Dots::new(8))
        .as_tuple()
}

#[derive(Clone)]
pub struct Captchas {
    store: Arc<dyn SessionStore>,
}

impl Captchas {
    pub fn new(store: Arc<dyn SessionStore>) -> Self {
        Self { store }
    }

    /// A new captcha: its id, picture and expiry. The answer stays in the store.
    pub async fn create(&self) -> Result<pb::Captcha, Error> {
        let (text, png) = tokio::task::spawn_blocking(draw)
            .await
            .ok()
            .flatten()
            .ok_or_else(|| Error::Captcha("drawing failed".into()))?;
        let id = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
        self.store
            .put(&key(&id), normalise(&text).into_bytes(), CAPTCHA_LIFETIME)
            .await?;
        Ok(pb::Captcha {
            captcha_id: id,
            png,
            expire_time: Some((SystemTime::now() + CAPTCHA_LIFETIME).into()),
        })
    }

    /// Whether `answer` solves captcha `id`. The captcha is used up either way.
    pub async fn solve(&self, id: &str, answer: &str) -> Result<bool, Error> {
        if id.is_empty() || id.len() > 64 {
            return Ok(false);
        }
        let expected = self.store.take(&key(id)).await?;
        Ok(expected.is_some_and(|expected| {
            let given = normalise(answer);
            !given.is_empty() && expected == given.as_bytes()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_common::kv::MemoryStore;

    #[tokio::test]
    async fn a_captcha_is_a_png_answered_once_ignoring_case_and_spaces() {
        let captchas = Captchas::new(Arc::new(MemoryStore::default()));
        let captcha = captchas.create().await.unwrap();
        assert!(captcha.png.starts_with(b"\x89PNG\r\n\x1a\n"));
        let answer = String::from_utf8(
            captchas
                .store
                .take(&key(&captcha.captcha_id))
                .await
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(answer.chars().count(), LENGTH as usize);
        // Put it back to answer it through the API.
        captchas
            .store
            .put(
                &key(&captcha.captcha_id),
                answer.clone().into_bytes(),
                CAPTCHA_LIFETIME,
            )
            .await
            .unwrap();
        let shouted = format!(" {} ", answer.to_uppercase());
        assert!(captchas.solve(&captcha.captcha_id, &shouted).await.unwrap());
        assert!(
            !captchas.solve(&captcha.captcha_id, &answer).await.unwrap(),
            "used up"
        );
    }

    #[tokio::test]
    async fn wrong_and_unknown_answers_fail_and_use_the_captcha_up() {
        let captchas = Captchas::new(Arc::new(MemoryStore::default()));
        let captcha = captchas.create().await.unwrap();
        assert!(!captchas.solve(&captcha.captcha_id, "nope!").await.unwrap());
        assert!(
            captchas
                .store
                .take(&key(&captcha.captcha_id))
                .await
                .unwrap()
                .is_none()
        );
        assert!(!captchas.solve("made-up", "abcde").await.unwrap());
        assert!(!captchas.solve("", "").await.unwrap());
    }
}
