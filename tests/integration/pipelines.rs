//! Every pipeline in `pipelines/` validates, and the committed schema is current.

use crate::support::{repo_root, run, shipgate};

#[test]
fn every_example_pipeline_validates() {
    let mut n = 0;
    for entry in std::fs::read_dir(repo_root().join("pipelines")).expect("pipelines dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let out = run(shipgate(&repo_root()).arg("validate").arg(&path));
            assert_eq!(out.code, 0, "{}:\n{}", path.display(), out.stderr);
            n += 1;
        }
    }
    assert!(n > 0, "no pipelines found");
}

#[test]
fn committed_schema_matches_the_rust_types() {
    let out = run(shipgate(&repo_root()).args(["schema", "--check"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn schema_check_fails_on_drift() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stale = dir.path().join("schema.json");
    std::fs::write(&stale, "{}\n").expect("write");
    let out = run(shipgate(dir.path()).args(["schema", "--check", "--path"]).arg(&stale));
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("shipgate schema --write"), "{}", out.stderr);
}

#[test]
fn example_pipelines_satisfy_the_schema_shape() {
    // The schema is what editors validate against: its top-level keys must be the ones
    // the loader accepts, and it must forbid unknown keys like the loader does.
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("schemas/pipeline.schema.json")).expect("schema"),
    )
    .expect("json");
    assert_eq!(schema["additionalProperties"], false);
    let props: Vec<&str> = schema["properties"].as_object().expect("properties").keys().map(String::as_str).collect();
    assert_eq!(props, ["version", "name", "env", "secrets", "steps"]);
    let required: Vec<&str> =
        schema["required"].as_array().expect("required").iter().filter_map(|v| v.as_str()).collect();
    assert!(required.contains(&"version") && required.contains(&"steps"));
    let step = &schema["$defs"]["RawStep"];
    assert_eq!(step["additionalProperties"], false);
    for key in ["run", "uses", "with", "needs", "env", "outputs", "timeout", "retry", "allow_failure", "if"] {
        assert!(step["properties"].get(key).is_some(), "step key `{key}` missing from the schema");
    }
}
