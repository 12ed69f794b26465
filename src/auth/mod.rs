//! Partner identity: verifying tokens, the principal a request acts as, and its scope.

pub mod manage;
mod principal;
pub mod tokens;

pub use principal::{Principal, Scope, authenticate, is_revoked, record_issued, revoke, was_issued};
pub use tokens::{Claims, TokenService};
