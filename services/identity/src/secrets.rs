//! Client secrets: generated from the OS CSPRNG, hashed with Argon2id off the async threads.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::Error;

/// A new client secret: 256 random bits, base64url.
pub fn generate() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// The Argon2id hash (PHC string) of a secret.
pub async fn hash(secret: String) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
            .map_err(|e| Error::Hashing(e.to_string()))?;
        Argon2::default()
            .hash_password(secret.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| Error::Hashing(e.to_string()))
    })
    .await
    .map_err(|e| Error::Hashing(e.to_string()))?
}

/// Whether `secret` matches the stored hash. Takes the same time for a wrong secret as for a
/// right one.
pub async fn verify(secret: String, stored_hash: String) -> Result<bool, Error> {
    tokio::task::spawn_blocking(move || {
        let hash = PasswordHash::new(&stored_hash).map_err(|e| Error::Hashing(e.to_string()))?;
        Ok(Argon2::default()
            .verify_password(secret.as_bytes(), &hash)
            .is_ok())
    })
    .await
    .map_err(|e| Error::Hashing(e.to_string()))?
}
