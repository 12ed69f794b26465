//! `schema.graphql` is the published contract and must match the code.

#[test]
fn the_checked_in_schema_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let checked_in = std::fs::read_to_string(&path).expect("schema.graphql exists at the root");
    let generated = london_vision::graphql::sdl();
    assert!(
        checked_in == generated,
        "schema.graphql differs from the code: regenerate it with `cargo run -- schema > schema.graphql`"
    );
}

#[test]
fn the_contract_names_are_in_the_schema() {
    let sdl = london_vision::graphql::sdl();
    for name in [
        "interface Node",
        "type Organisation",
        "type Geography",
        "type Priority",
        "type Commitment",
        "type Measure",
        "type Observation",
        "type CaseStudy",
        "enum GeographyLevel",
        "enum TrajectoryStatus",
        "enum Polarity",
        "scalar Period",
        "totalCount: Int!",
        "pageInfo: PageInfo!",
    ] {
        assert!(sdl.contains(name), "the schema lacks {name}");
    }
}

/// Every type, field, argument, input field, enum value and scalar says what it is: GraphiQL's
/// documentation and IDE hovers show nothing else.
#[test]
fn everything_in_the_schema_has_a_description() {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let sdl = london_vision::graphql::sdl();
    let doc = async_graphql::parser::parse_schema(&sdl).expect("the SDL parses");
    let mut missing = Vec::new();
    let blank = |d: &Option<async_graphql::Positioned<String>>| d.as_ref().is_none_or(|d| d.node.trim().is_empty());
    for def in &doc.definitions {
        let TypeSystemDefinition::Type(ty) = def else { continue };
        let ty = &ty.node;
        let name = ty.name.node.as_str();
        if blank(&ty.description) {
            missing.push(name.to_owned());
        }
        match &ty.kind {
            TypeKind::Object(async_graphql::parser::types::ObjectType { fields, .. })
            | TypeKind::Interface(async_graphql::parser::types::InterfaceType { fields, .. }) => {
                for f in fields {
                    let f = &f.node;
                    if blank(&f.description) {
                        missing.push(format!("{name}.{}", f.name.node));
                    }
                    for a in &f.arguments {
                        if blank(&a.node.description) {
                            missing.push(format!("{name}.{}({})", f.name.node, a.node.name.node));
                        }
                    }
                }
            }
            TypeKind::InputObject(i) => {
                for f in &i.fields {
                    if blank(&f.node.description) {
                        missing.push(format!("{name}.{}", f.node.name.node));
                    }
                }
            }
            TypeKind::Enum(e) => {
                for v in &e.values {
                    if blank(&v.node.description) {
                        missing.push(format!("{name}.{}", v.node.value.node));
                    }
                }
            }
            TypeKind::Scalar | TypeKind::Union(_) => {}
        }
    }
    assert!(missing.is_empty(), "{} schema elements have no description:\n{}", missing.len(), missing.join("\n"));
}
