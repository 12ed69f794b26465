//! Partner identity: verifying tokens, the principal a request acts as, and its scope.

pub mod authority;
pub mod directory;
pub mod manage;
mod principal;
pub mod session;
pub mod tokens;

pub use authority::{Act, Denied, OrgRef};
pub use directory::Directory;
pub use principal::{Principal, Scope, is_revoked, record_issued, revoke, was_issued};
pub use tokens::{Claims, TokenService};
