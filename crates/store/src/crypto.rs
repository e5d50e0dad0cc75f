//! Encryption of stored database passwords with XChaCha20-Poly1305.
//!
//! The key lives in a file outside the metadata database, so a copy of `querypad.db` alone
//! (a backup, a bug report) does not reveal any password.

use crate::StoreError;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use std::path::Path;

/// Seals and opens secrets with one 256-bit key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(***)")
    }
}

impl SecretBox {
    /// Loads the 32-byte key file, creating it with mode 0600 when it does not exist yet.
    pub fn load_or_create(path: &Path) -> Result<SecretBox, StoreError> {
        let key = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = vec![0u8; 32];
                getrandom::getrandom(&mut key).map_err(|e| StoreError::Crypto(e.to_string()))?;
                write_private(path, &key)?;
                key
            }
            Err(e) => {
                return Err(StoreError::Crypto(format!(
                    "cannot read key file {}: {e}",
                    path.display()
                )));
            }
        };
        if key.len() != 32 {
            return Err(StoreError::Crypto(format!(
                "key file {} must hold exactly 32 bytes, found {}",
                path.display(),
                key.len()
            )));
        }
        SecretBox::from_key(&key)
    }

    /// Builds from raw key bytes (32).
    pub fn from_key(key: &[u8]) -> Result<SecretBox, StoreError> {
        let cipher = XChaCha20Poly1305::new_from_slice(key)
            .map_err(|_| StoreError::Crypto("the key must be 32 bytes".into()))?;
        Ok(SecretBox { cipher })
    }

    /// Encrypts: output is a random 24-byte nonce followed by the ciphertext and tag.
    pub fn seal(&self, plaintext: &str) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; 24];
        getrandom::getrandom(&mut nonce).map_err(|e| StoreError::Crypto(e.to_string()))?;
        let mut out = nonce.to_vec();
        let ct = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plaintext.as_bytes())
            .map_err(|_| StoreError::Crypto("encryption failed".into()))?;
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Decrypts what [`SecretBox::seal`] produced.
    pub fn open(&self, sealed: &[u8]) -> Result<String, StoreError> {
        if sealed.len() < 24 + 16 {
            return Err(StoreError::Crypto("stored secret is truncated".into()));
        }
        let (nonce, ct) = sealed.split_at(24);
        let pt = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), ct)
            .map_err(|_| {
                StoreError::Crypto(
                "a stored password cannot be decrypted: the key file does not match this database"
                    .into(),
            )
            })?;
        String::from_utf8(pt).map_err(|_| StoreError::Crypto("stored secret is not UTF-8".into()))
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| {
        StoreError::Crypto(format!("cannot create key file {}: {e}", path.display()))
    })?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| StoreError::Crypto(format!("cannot write key file {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips_and_differs_each_time() {
        let b = SecretBox::from_key(&[7u8; 32]).unwrap();
        let a1 = b.seal("hunter2").unwrap();
        let a2 = b.seal("hunter2").unwrap();
        assert_ne!(a1, a2, "nonces must differ");
        assert!(!a1.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(b.open(&a1).unwrap(), "hunter2");
    }

    #[test]
    fn wrong_key_is_a_clear_error() {
        let sealed = SecretBox::from_key(&[7u8; 32]).unwrap().seal("x").unwrap();
        let err = SecretBox::from_key(&[8u8; 32])
            .unwrap()
            .open(&sealed)
            .unwrap_err();
        assert!(err.to_string().contains("key file does not match"));
    }
}
