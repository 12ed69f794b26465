//! Partner identity: verifying tokens, the principal a request acts as, and its scope.

mod principal;
pub mod tokens;

pub use principal::{Principal, Scope, authenticate, is_revoked, revoke};
pub use tokens::{Claims, TokenService};
