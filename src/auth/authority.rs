//! Who may administer what: the one rule every channel (GraphQL, CSV, WebSocket, the command
//! line, webhook deliveries) asks, so that listing and acting always agree.
//!
//! - An organisation's ADMIN administers its own organisation and every organisation based
//!   strictly inside its area (a borough council: the neighbourhood bodies in its borough; an
//!   ICS: its boroughs' councils and what lies below them). Never one above it or beside it.
//! - An organisation's place in the hierarchy (its area, its kind, its members) is changed only
//!   by a London-wide ADMIN (an organisation whose area is London itself, such as the GLA), and
//!   never its own place: no token can widen the area it acts for.
//! - A London-wide ADMIN administers every organisation, and the pan-London catalogue
//!   (priorities, commitments, measures, series breaks, period locks) is London-wide too.
//! - Tokens, webhooks, neighbourhood imports and the audit trail follow the same rule; an
//!   APPROVER also manages its own organisation's webhooks.
//!
//! A missing role is `FORBIDDEN`; a record beyond the caller's reach is a user error
//! (`OUT_OF_SCOPE`) when the caller names it, and simply absent from what it lists.

use super::Principal;
use crate::{
    error::{AppError, AppResult, UserError},
    values::{Role, UserErrorCode},
};

/// An organisation as the rule sees it: which one, and the area it is based in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgRef {
    pub id: i64,
    pub geography: i64,
}

impl From<&entity::organisation::Model> for OrgRef {
    fn from(o: &entity::organisation::Model) -> Self {
        Self { id: o.id, geography: o.geography_id }
    }
}

/// What a caller asks to do.
#[derive(Debug, Clone, Copy)]
pub enum Act {
    /// Change the pan-London catalogue: priorities, commitments, measures, series breaks,
    /// period locks.
    EditCatalogue,
    /// Change an organisation's own details (name, description, website), issue, list and
    /// revoke its tokens, read its audit trail.
    Administer(OrgRef),
    /// Create an organisation based in `geography`, or move one there, change its kind or its
    /// members: the hierarchy itself. `moving` is the organisation moved, if one exists.
    Place { moving: Option<OrgRef>, geography: i64 },
    /// Name `member` as a member of an organisation.
    NameMember(OrgRef),
    /// Register, list and delete an organisation's webhooks, and read their deliveries.
    ManageWebhooks(OrgRef),
    /// Import neighbourhoods under the borough `parent`.
    ImportNeighbourhoods { parent: i64 },
}

/// Why an act was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// The caller lacks the role the act needs: `FORBIDDEN`.
    Role(String),
    /// The record lies beyond the caller's reach: `OUT_OF_SCOPE`.
    Reach(String),
}

impl Denied {
    /// As an error of the whole request (`FORBIDDEN`).
    pub fn into_error(self) -> AppError {
        match self {
            Self::Role(m) | Self::Reach(m) => AppError::Forbidden(m),
        }
    }

    /// As the user error of `field` when the caller lacks reach, or `FORBIDDEN` for a missing
    /// role.
    pub fn user_error(self, field: &[&str]) -> AppResult<Vec<UserError>> {
        match self {
            Self::Role(m) => Err(AppError::Forbidden(m)),
            Self::Reach(m) => Ok(vec![UserError::new(field, UserErrorCode::OutOfScope, m)]),
        }
    }
}

impl Principal {
    /// Whether the principal acts for all of London (its organisation's area is the top of the
    /// geography).
    pub fn is_london_wide(&self) -> bool {
        self.scope.london_wide
    }

    /// Whether an ADMIN of this principal's organisation reaches `org`: its own organisation,
    /// one based strictly inside its area, or, for a London-wide principal, any.
    pub fn reaches(&self, org: OrgRef) -> bool {
        org.id == self.organisation.id
            || self.scope.london_wide
            || (org.geography != self.scope.root && self.scope.contains(org.geography))
    }

    /// Whether the principal may do `act`.
    pub fn may(&self, act: Act) -> bool {
        self.authorise(act).is_ok()
    }

    /// The one rule: `Ok` when the principal may do `act`, else why not.
    pub fn authorise(&self, act: Act) -> Result<(), Denied> {
        let admin = || {
            if self.has_role(Role::Admin) {
                Ok(())
            } else {
                Err(Denied::Role(format!(
                    "this needs the ADMIN role; the token for {} has {}",
                    self.organisation.slug,
                    self.role_list()
                )))
            }
        };
        let london_wide = |what: &str| {
            if self.scope.london_wide {
                Ok(())
            } else {
                Err(Denied::Reach(format!(
                    "{what} is changed by a London-wide administrator; {} acts for its own area only",
                    self.organisation.name
                )))
            }
        };
        match act {
            Act::EditCatalogue => {
                admin()?;
                london_wide("the pan-London catalogue")
            }
            Act::Administer(org) => {
                admin()?;
                self.within_reach(org)
            }
            Act::Place { moving, geography } => {
                admin()?;
                if let Some(org) = moving {
                    if org.id == self.organisation.id {
                        return Err(Denied::Reach(format!(
                            "no organisation changes its own place in the hierarchy: ask a London-wide administrator to change {}",
                            self.organisation.name
                        )));
                    }
                    self.within_reach(org)?;
                    london_wide("an organisation's place in the hierarchy")
                } else if self.scope.london_wide || (geography != self.scope.root && self.scope.contains(geography)) {
                    Ok(())
                } else {
                    Err(Denied::Reach(format!(
                        "{} creates organisations only inside its own area",
                        self.organisation.name
                    )))
                }
            }
            Act::NameMember(org) => {
                admin()?;
                if self.reaches(org) {
                    Ok(())
                } else {
                    Err(Denied::Reach(format!(
                        "{} names as members only organisations inside its own area",
                        self.organisation.name
                    )))
                }
            }
            Act::ManageWebhooks(org) => {
                if self.has_role(Role::Approver) && org.id == self.organisation.id {
                    return Ok(());
                }
                if !self.has_role(Role::Admin) && !self.has_role(Role::Approver) {
                    return Err(Denied::Role("webhooks are managed by an ADMIN or the organisation's APPROVER".into()));
                }
                if !self.has_role(Role::Admin) {
                    return Err(Denied::Reach(format!(
                        "an APPROVER manages its own organisation's webhooks only ({})",
                        self.organisation.slug
                    )));
                }
                self.within_reach(org)
            }
            Act::ImportNeighbourhoods { parent } => {
                admin()?;
                if self.scope.london_wide || self.scope.contains(parent) {
                    Ok(())
                } else {
                    Err(Denied::Reach(format!("that borough is outside the area of {}", self.organisation.name)))
                }
            }
        }
    }

    fn within_reach(&self, org: OrgRef) -> Result<(), Denied> {
        if self.reaches(org) {
            Ok(())
        } else {
            Err(Denied::Reach(format!(
                "that organisation is outside the reach of {}: an administrator acts for its own organisation and those inside its area",
                self.organisation.name
            )))
        }
    }

    fn role_list(&self) -> String {
        if self.roles.is_empty() {
            "none".to_owned()
        } else {
            self.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::{Act, Denied, OrgRef};
    use crate::{
        auth::{Principal, Scope},
        values::Role,
    };

    // London 1; ICS 2 with boroughs 3 and 4; ICS 5 with borough 6; ward 7 in borough 3.
    fn principal(org: i64, root: i64, roles: &[Role]) -> Principal {
        let subtree: Vec<i64> = match root {
            1 => vec![1, 2, 3, 4, 5, 6, 7],
            2 => vec![2, 3, 4, 7],
            3 => vec![3, 7],
            5 => vec![5, 6],
            r => vec![r],
        };
        Principal {
            subject: "t".into(),
            organisation: entity::organisation::Model {
                id: org,
                slug: format!("org-{org}"),
                name: format!("Org {org}"),
                kind: "BOROUGH_COUNCIL".into(),
                geography_id: root,
                description: None,
                website: None,
                created_at: chrono::Utc::now(),
                updated_at: chrono::Utc::now(),
            },
            roles: roles.to_vec(),
            scope: Scope { root, geographies: subtree.into_iter().collect::<HashSet<_>>(), london_wide: root == 1 },
            token_id: "j".into(),
            expires_at: None,
        }
    }

    const ORG_AT_3: OrgRef = OrgRef { id: 30, geography: 3 };
    const ORG_AT_4: OrgRef = OrgRef { id: 40, geography: 4 };
    const ORG_AT_2: OrgRef = OrgRef { id: 20, geography: 2 };
    const ORG_AT_7: OrgRef = OrgRef { id: 70, geography: 7 };
    const OTHER_AT_1: OrgRef = OrgRef { id: 11, geography: 1 };

    #[test]
    fn an_admin_reaches_its_own_organisation_and_those_inside_its_area_only() {
        let borough = principal(30, 3, &[Role::Admin]);
        assert!(borough.may(Act::Administer(ORG_AT_3)));
        assert!(borough.may(Act::Administer(ORG_AT_7)));
        assert!(!borough.may(Act::Administer(ORG_AT_4)), "a sibling borough");
        assert!(!borough.may(Act::Administer(ORG_AT_2)), "its ICS");
        let ics = principal(20, 2, &[Role::Admin]);
        assert!(ics.may(Act::Administer(ORG_AT_3)) && ics.may(Act::Administer(ORG_AT_4)));
        assert!(!ics.may(Act::Administer(OrgRef { id: 50, geography: 5 })), "another ICS");
        assert!(!ics.may(Act::Administer(OrgRef { id: 21, geography: 2 })), "beside it");
        let london = principal(10, 1, &[Role::Admin]);
        assert!(london.may(Act::Administer(OTHER_AT_1)) && london.may(Act::Administer(ORG_AT_7)));
    }

    #[test]
    fn nobody_moves_itself_and_only_london_wide_admins_move_anyone() {
        let borough = principal(30, 3, &[Role::Admin]);
        let own = Act::Place { moving: Some(ORG_AT_3), geography: 1 };
        assert!(matches!(borough.authorise(own), Err(Denied::Reach(_))));
        assert!(!borough.may(Act::Place { moving: Some(ORG_AT_7), geography: 3 }), "a borough moves nobody");
        assert!(borough.may(Act::Place { moving: None, geography: 7 }), "a new body inside its borough");
        assert!(!borough.may(Act::Place { moving: None, geography: 3 }), "beside itself");
        assert!(!principal(20, 2, &[Role::Admin]).may(Act::Place { moving: Some(ORG_AT_3), geography: 4 }));
        let london = principal(10, 1, &[Role::Admin]);
        assert!(london.may(Act::Place { moving: Some(ORG_AT_3), geography: 4 }));
        assert!(!london.may(Act::Place { moving: Some(OrgRef { id: 10, geography: 1 }), geography: 3 }));
        assert!(!borough.may(Act::NameMember(ORG_AT_4)) && borough.may(Act::NameMember(ORG_AT_7)));
        assert!(borough.may(Act::NameMember(ORG_AT_3)), "itself, in a body inside its area");
    }

    #[test]
    fn roles_come_first_and_the_catalogue_is_london_wide() {
        let submitter = principal(10, 1, &[Role::Submitter]);
        assert!(matches!(submitter.authorise(Act::EditCatalogue), Err(Denied::Role(_))));
        assert!(matches!(principal(30, 3, &[Role::Admin]).authorise(Act::EditCatalogue), Err(Denied::Reach(_))));
        assert!(principal(10, 1, &[Role::Admin]).may(Act::EditCatalogue));
    }

    #[test]
    fn webhooks_are_the_reach_of_an_admin_or_an_approver_of_the_organisation_itself() {
        let approver = principal(30, 3, &[Role::Approver]);
        assert!(approver.may(Act::ManageWebhooks(ORG_AT_3)));
        assert!(!approver.may(Act::ManageWebhooks(ORG_AT_7)));
        assert!(matches!(
            principal(30, 3, &[Role::Submitter]).authorise(Act::ManageWebhooks(ORG_AT_3)),
            Err(Denied::Role(_))
        ));
        assert!(!principal(30, 3, &[Role::Admin]).may(Act::ManageWebhooks(OTHER_AT_1)));
        assert!(principal(20, 2, &[Role::Admin]).may(Act::ManageWebhooks(ORG_AT_4)));
    }

    #[test]
    fn neighbourhoods_are_imported_under_boroughs_in_the_area_only() {
        assert!(principal(30, 3, &[Role::Admin]).may(Act::ImportNeighbourhoods { parent: 3 }));
        assert!(!principal(30, 3, &[Role::Admin]).may(Act::ImportNeighbourhoods { parent: 4 }));
        assert!(!principal(30, 3, &[Role::Approver]).may(Act::ImportNeighbourhoods { parent: 3 }));
    }
}
