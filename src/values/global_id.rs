//! Opaque global IDs: every `Node`'s `id` is the base64url of `Type:key`, so a client can
//! refetch any object with `node(id:)` without knowing its type or table.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::error::AppError;

/// The object types that have global IDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeType {
    Organisation,
    Geography,
    Priority,
    Commitment,
    Measure,
    Observation,
    CaseStudy,
    Return,
    AuditEvent,
    Webhook,
}

impl NodeType {
    const ALL: [Self; 10] = [
        Self::Organisation,
        Self::Geography,
        Self::Priority,
        Self::Commitment,
        Self::Measure,
        Self::Observation,
        Self::CaseStudy,
        Self::Return,
        Self::AuditEvent,
        Self::Webhook,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Organisation => "Organisation",
            Self::Geography => "Geography",
            Self::Priority => "Priority",
            Self::Commitment => "Commitment",
            Self::Measure => "Measure",
            Self::Observation => "Observation",
            Self::CaseStudy => "CaseStudy",
            Self::Return => "Return",
            Self::AuditEvent => "AuditEvent",
            Self::Webhook => "Webhook",
        }
    }
}

/// The global ID of row `key` of `node_type`.
pub fn encode(node_type: NodeType, key: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{key}", node_type.name()))
}

/// The type and key a global ID names, or a BAD_USER_INPUT error for anything else.
pub fn decode(id: &str) -> Result<(NodeType, i64), AppError> {
    let bad = || AppError::BadUserInput(format!("'{id}' is not a valid ID: use an `id` returned by this API"));
    let text = URL_SAFE_NO_PAD.decode(id).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(bad)?;
    let (name, key) = text.split_once(':').ok_or_else(bad)?;
    let node_type = NodeType::ALL.into_iter().find(|t| t.name() == name).ok_or_else(bad)?;
    let key = key.parse::<i64>().map_err(|_| bad())?;
    Ok((node_type, key))
}

#[cfg(test)]
mod tests {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};

    use super::{NodeType, decode, encode};

    #[test]
    fn an_id_decodes_to_the_type_and_key_it_was_made_from() {
        let id = encode(NodeType::CaseStudy, 42);
        assert_eq!(decode(&id).expect("valid"), (NodeType::CaseStudy, 42));
        assert!(!id.contains("CaseStudy"), "IDs are opaque");
    }

    #[test]
    fn anything_else_is_not_an_id() {
        let encoded = |text: &str| URL_SAFE_NO_PAD.encode(text);
        for bad in
            ["", "42", "!!!", &encoded("measure:1"), &encoded("Unknown:1"), &encoded("Measure:x"), &encoded("Measure")]
        {
            assert!(decode(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
