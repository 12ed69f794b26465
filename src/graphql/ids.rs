//! Global IDs as GraphQL shows them: the contract's opaque IDs (`values::global_id`) as `ID`.

use async_graphql::ID;

pub use crate::values::global_id::{NodeType, decode};

/// The global ID of row `key` of `node_type`.
pub fn encode(node_type: NodeType, key: i64) -> ID {
    ID(crate::values::global_id::encode(node_type, key))
}
