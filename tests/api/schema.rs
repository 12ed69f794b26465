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
