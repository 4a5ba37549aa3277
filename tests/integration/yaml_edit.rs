//! The golden corpus of format-preserving edits (`tests/fixtures/yaml-edit/`). Each
//! `NAME.edit` names a path and a value and either the exact text the edited line must
//! have, or an error the edit must give. Every other byte must be unchanged.

use shipgate::gitops::{DocSelector, NewValue, Path, edit_scalar};

use crate::support::repo_root;

struct Case {
    doc: DocSelector,
    path: String,
    value: String,
    expect: Result<(usize, String), String>,
}

fn read_case(text: &str) -> Case {
    let field = |name: &str| text.lines().find_map(|l| l.strip_prefix(&format!("{name}: "))).map(str::to_owned);
    let doc = match field("doc") {
        None => DocSelector::Only,
        Some(d) => match d.parse::<usize>() {
            Ok(i) => DocSelector::Index(i),
            Err(_) => {
                let (kind, name) = d.split_once('/').expect("doc: Kind/name");
                DocSelector::Object { kind: Some(kind.into()), name: Some(name.into()) }
            }
        },
    };
    let expect = match field("error") {
        Some(e) => Err(e),
        None => Ok((field("line").and_then(|l| l.parse().ok()).expect("line"), field("expect").expect("expect"))),
    };
    Case { doc, path: field("path").expect("path"), value: field("value").unwrap_or_default(), expect }
}

/// Lines with their endings, so CRLF files compare byte for byte.
fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

#[test]
fn golden_corpus_of_format_preserving_edits() {
    let dir = repo_root().join("tests/fixtures/yaml-edit");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    names.sort();
    assert!(names.len() >= 30, "the corpus has {} files", names.len());
    for input_path in names {
        let name = input_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let input = std::fs::read_to_string(&input_path).expect("input");
        let case = read_case(&std::fs::read_to_string(input_path.with_extension("edit")).expect("edit spec"));
        let path = Path::parse(&case.path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let result = edit_scalar(&input, &case.doc, &path, &NewValue::Str(case.value.clone()));
        match (&case.expect, result) {
            (Ok((line, text)), Ok((output, outcome))) => {
                assert!(outcome.changed, "{name}: nothing changed");
                let (before, after) = (lines(&input), lines(&output));
                assert_eq!(before.len(), after.len(), "{name}: line count changed\n{output}");
                for (i, (b, a)) in before.iter().zip(&after).enumerate() {
                    if i + 1 == *line {
                        let ending = &b[b.trim_end_matches(['\r', '\n']).len()..];
                        assert_eq!(*a, format!("{text}{ending}"), "{name}: line {line}");
                    } else {
                        assert_eq!(a, b, "{name}: line {} changed", i + 1);
                    }
                }
                // Editing again with the same value is a no-op.
                let (again, o) =
                    edit_scalar(&output, &case.doc, &path, &NewValue::Str(case.value.clone())).expect("re-edit");
                assert!(!o.changed && again == output, "{name}: second edit changed the file");
            }
            (Err(want), Err(e)) => assert!(e.to_string().contains(want.as_str()), "{name}: error `{e}` lacks `{want}`"),
            (Ok(_), Err(e)) => panic!("{name}: unexpected error {e}"),
            (Err(want), Ok((out, _))) => panic!("{name}: expected an error containing `{want}`, got\n{out}"),
        }
    }
}
