//! API tokens: shown once at creation, stored as SHA-256 hashes, compared in constant time.

use crate::{Store, StoreError};
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A token record (never the token itself).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ApiToken {
    /// Identifier.
    pub id: i64,
    /// Name given at creation.
    pub name: String,
    /// Creation time.
    pub created_at: String,
    /// Last successful use, if any.
    pub last_used_at: Option<String>,
}

/// A freshly created token: the only time the secret exists outside the client.
#[derive(Debug)]
pub struct NewToken {
    /// The record.
    pub record: ApiToken,
    /// The secret to hand to the user (`qp_` + 43 base64url characters).
    pub secret: String,
}

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

impl Store {
    /// Creates a token named `name`; the secret is returned once and only its hash is kept.
    pub async fn create_token(&self, name: &str) -> Result<NewToken, StoreError> {
        let _w = self.writer.lock().await;
        let mut raw = [0u8; 32];
        getrandom::getrandom(&mut raw).map_err(|e| StoreError::Crypto(e.to_string()))?;
        let secret = format!(
            "qp_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
        );
        let id: i64 =
            sqlx::query_scalar("INSERT INTO api_tokens (name, hash) VALUES (?, ?) RETURNING id")
                .bind(name)
                .bind(hash(&secret))
                .fetch_one(&self.pool)
                .await
                .map_err(|e| {
                    StoreError::from_write(e, &format!("a token named {name:?} already exists"))
                })?;
        let record = self
            .list_tokens()
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or(StoreError::NotFound { what: "token", id })?;
        Ok(NewToken { record, secret })
    }

    /// Lists token records.
    pub async fn list_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        let rows: Vec<(i64, String, String, Option<String>)> =
            sqlx::query_as("SELECT id, name, created_at, last_used_at FROM api_tokens ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, created_at, last_used_at)| ApiToken {
                id,
                name,
                created_at,
                last_used_at,
            })
            .collect())
    }

    /// Whether any token exists (auth is enforced only then).
    pub async fn has_tokens(&self) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM api_tokens")
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// Checks a presented secret against every stored hash in constant time per comparison;
    /// answers the matching token's id.
    pub async fn verify_token(&self, secret: &str) -> Result<Option<i64>, StoreError> {
        let presented = hash(secret);
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as("SELECT id, hash FROM api_tokens")
            .fetch_all(&self.pool)
            .await?;
        let mut found = None;
        for (id, stored) in rows {
            if bool::from(stored.ct_eq(&presented)) {
                found = Some(id);
            }
        }
        Ok(found)
    }

    /// Deletes a token by name.
    pub async fn revoke_token(&self, name: &str) -> Result<bool, StoreError> {
        let _w = self.writer.lock().await;
        let done = sqlx::query("DELETE FROM api_tokens WHERE name = ?")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
