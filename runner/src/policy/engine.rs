//! Rego through regorus, conftest-compatible: rules `deny`, `violation`, `warn` (and
//! their `_suffix` variants), `exception`, namespaces, data files, Rego v0 and v1
//! (detected per file).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::PolicyError;
use super::metadata::{self, RuleDoc};

/// A Rego file to load.
#[derive(Debug, Clone)]
pub struct PolicyFile {
    pub name: String,
    pub text: String,
    /// Part of the built-in library (`data.shipgate.*`).
    pub builtin: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    Deny,
    Violation,
    Warn,
}

impl RuleKind {
    fn of(name: &str) -> Option<(RuleKind, &str)> {
        for (prefix, kind) in [("deny", RuleKind::Deny), ("violation", RuleKind::Violation), ("warn", RuleKind::Warn)] {
            if let Some(rest) = name.strip_prefix(prefix)
                && (rest.is_empty() || rest.starts_with('_'))
            {
                return Some((kind, rest.trim_start_matches('_')));
            }
        }
        None
    }
}

/// One result of a rule for one document, before it becomes a finding.
#[derive(Debug, Clone)]
pub struct RuleResult {
    /// `data.main.deny_root`.
    pub rule: String,
    pub kind: RuleKind,
    pub builtin: bool,
    /// A plain string, or the object the rule returned.
    pub value: Value,
    /// The `exception` that exempts it (the rule's suffix), if any.
    pub excepted: bool,
}

#[derive(Debug, Clone)]
struct Package {
    path: String,
    builtin: bool,
    rules: Vec<Rule>,
    has_exception: bool,
}

/// A finding rule of a package, its paths made once (they are used per document).
#[derive(Debug, Clone)]
struct Rule {
    /// `deny_root`.
    name: String,
    /// `data.main.deny_root`, for evaluating.
    query: String,
    /// `main.deny_root`, for findings.
    shown: String,
    kind: RuleKind,
    /// `root`: what an `exception` names.
    suffix: String,
}

/// The compiled policies. Cloned per worker thread.
#[derive(Clone)]
pub struct PolicySet {
    engine: regorus::Engine,
    packages: Vec<Package>,
    docs: BTreeMap<String, RuleDoc>,
    /// `main.warn` → the id its `# METADATA` gives (when one rule name has one id).
    rule_ids: BTreeMap<String, Option<String>>,
}

impl std::fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySet").field("packages", &self.packages.len()).finish_non_exhaustive()
    }
}

static RULE_HEAD: LazyLock<Regex> = LazyLock::new(|| {
    #[expect(clippy::unwrap_used, reason = "a constant pattern")]
    Regex::new(r"(?m)^[ \t]*((?:deny|violation|warn)(?:_[A-Za-z0-9_]+)?|exception)\b").unwrap()
});

fn compile_error(file: &str, e: &dyn std::fmt::Display) -> PolicyError {
    PolicyError::Policy(format!("{file}: the policy does not compile: {e}"))
}

impl PolicySet {
    /// Compiles `files` and merges `data` documents. Every file must compile (as Rego
    /// v1, else as v0) — a policy that does not is an error, never skipped.
    pub fn compile(files: &[PolicyFile], data: Vec<Value>) -> Result<PolicySet, PolicyError> {
        let mut engine = regorus::Engine::new();
        engine.set_strict_builtin_errors(true);
        let mut packages: BTreeMap<String, Package> = BTreeMap::new();
        let mut docs: BTreeMap<String, RuleDoc> = BTreeMap::new();
        let mut rule_ids: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut builtin_ids: BTreeSet<String> = BTreeSet::new();
        for f in files {
            engine.set_rego_v0(false);
            let package = match engine.add_policy(f.name.clone(), f.text.clone()) {
                Ok(p) => p,
                Err(v1) => {
                    engine.set_rego_v0(true);
                    // Report the v1 error when the file is not v0 either and says so.
                    engine.add_policy(f.name.clone(), f.text.clone()).map_err(|v0| {
                        let v1_only = f.text.contains("import rego.v1") || f.text.contains(" if ");
                        compile_error(&f.name, if v1_only { &v1 } else { &v0 })
                    })?
                }
            };
            if !f.builtin && package.starts_with("data.shipgate") {
                return Err(PolicyError::Policy(format!(
                    "{}: package `{}` is reserved for the built-in library",
                    f.name,
                    package.trim_start_matches("data.")
                )));
            }
            let entry = packages.entry(package.clone()).or_insert_with(|| Package {
                path: package.clone(),
                builtin: f.builtin,
                rules: Vec::new(),
                has_exception: false,
            });
            for m in RULE_HEAD.captures_iter(&f.text) {
                let name = &m[1];
                // A head the check does not recognise (`deny[{"msg": m}] if …`) is
                // confirmed by evaluating it: a rule that exists is never skipped.
                if !engine.has_declared_rule_rooted_at(&f.name, name).unwrap_or(false) {
                    engine.set_input(regorus::Value::new_object());
                    let path = format!("{package}.{name}");
                    if engine.eval_rule(path).is_err() {
                        continue;
                    }
                }
                if name == "exception" {
                    entry.has_exception = true;
                } else if let Some((kind, suffix)) = RuleKind::of(name)
                    && !entry.rules.iter().any(|r| r.name == name)
                {
                    let query = format!("{package}.{name}");
                    let shown = query.trim_start_matches("data.").to_owned();
                    entry.rules.push(Rule { name: name.to_owned(), query, shown, kind, suffix: suffix.to_owned() });
                }
            }
            for d in metadata::parse(&f.name, &f.text)
                .map_err(|(line, msg)| PolicyError::Policy(format!("{}:{line}: {msg}", f.name)))?
            {
                if f.builtin {
                    builtin_ids.insert(d.id.clone());
                } else if builtin_ids.contains(&d.id) {
                    return Err(PolicyError::Policy(format!(
                        "{}:{}: the id `{}` belongs to a built-in rule",
                        f.name, d.line, d.id
                    )));
                }
                if d.id != d.rule {
                    let key = format!("{}.{}", package.trim_start_matches("data."), d.rule);
                    let id = Some(d.id.clone());
                    // One rule name annotated with two ids cannot be told apart.
                    rule_ids
                        .entry(key)
                        .and_modify(|e| {
                            if *e != id {
                                *e = None
                            }
                        })
                        .or_insert(id);
                }
                docs.insert(d.id.clone(), d);
            }
        }
        for d in data {
            if d.get("shipgate").is_some() {
                return Err(PolicyError::Usage(
                    "data: the top-level key `shipgate` is reserved for the built-in library".into(),
                ));
            }
            engine.add_data(regorus::Value::from(d)).map_err(|e| PolicyError::Usage(format!("data: {e}")))?;
        }
        // Compile now so that errors in rule bodies surface before any input is read.
        let mut set = PolicySet { engine, packages: packages.into_values().collect(), docs, rule_ids };
        set.engine.set_input(regorus::Value::new_object());
        for p in set.packages.clone() {
            for r in &p.rules {
                set.engine.eval_rule(r.query.clone()).map_err(|e| PolicyError::Policy(format!("{}: {e}", r.query)))?;
            }
        }
        Ok(set)
    }

    /// The user packages (not built-in), e.g. `main`.
    pub fn user_namespaces(&self) -> Vec<String> {
        self.packages.iter().filter(|p| !p.builtin).map(|p| p.path.trim_start_matches("data.").to_owned()).collect()
    }

    pub fn docs(&self) -> &BTreeMap<String, RuleDoc> {
        &self.docs
    }

    /// The id a rule's `# METADATA` gives it (`main.warn` → `ORG-001`), if one.
    pub fn rule_id(&self, rule: &str) -> Option<&str> {
        self.rule_ids.get(rule).and_then(|id| id.as_deref())
    }

    /// Evaluates the packages named by `paths` (`data.main`, …) on one input, rule by
    /// rule (measured faster than evaluating each package as a whole, which also
    /// computes helper rules no finding needs).
    pub fn evaluate(&mut self, input: &Value, paths: &[&str]) -> Result<Vec<RuleResult>, PolicyError> {
        use serde::Deserialize as _;
        let input = regorus::Value::deserialize(input).map_err(|e| PolicyError::Evaluation(format!("input: {e}")))?;
        self.engine.set_input(input);
        let mut out = Vec::new();
        for p in self.packages.iter().filter(|p| paths.contains(&p.path.as_str())) {
            let excepted: BTreeSet<String> = if p.has_exception {
                let v = self.engine.eval_rule(format!("{}.exception", p.path)).map_err(|e| eval_error(&p.path, &e))?;
                let mut names = BTreeSet::new();
                for group in to_json(&v).as_array().into_iter().flatten() {
                    match group {
                        Value::Array(a) => names.extend(a.iter().filter_map(Value::as_str).map(str::to_owned)),
                        Value::String(s) => {
                            names.insert(s.clone());
                        }
                        _ => {}
                    }
                }
                names
            } else {
                BTreeSet::new()
            };
            for r in &p.rules {
                let v = self.engine.eval_rule(r.query.clone()).map_err(|e| eval_error(&r.query, &e))?;
                if v == regorus::Value::Undefined {
                    continue;
                }
                let items = match to_json(&v) {
                    Value::Array(items) => items,
                    Value::Null | Value::Bool(false) => Vec::new(),
                    // A complete rule (`deny = "msg"`, `deny = true`) is one result.
                    other => vec![other],
                };
                for value in items {
                    out.push(RuleResult {
                        rule: r.shown.clone(),
                        kind: r.kind,
                        builtin: p.builtin,
                        value,
                        excepted: !r.suffix.is_empty() && excepted.contains(&r.suffix),
                    });
                }
            }
        }
        Ok(out)
    }

    /// The package paths whose namespace is selected.
    pub fn select(&self, namespaces: &[String], all: bool) -> Vec<String> {
        self.packages
            .iter()
            .filter(|p| !p.builtin)
            .map(|p| p.path.clone())
            .filter(|p| all || namespaces.iter().any(|n| p.trim_start_matches("data.") == n))
            .collect()
    }

    /// Runs every `test_*` rule (like `opa test`): (package, rule, passed, error).
    pub fn run_tests(&mut self, files: &[PolicyFile]) -> Vec<TestResult> {
        static TEST_HEAD: LazyLock<Regex> = LazyLock::new(|| {
            #[expect(clippy::unwrap_used, reason = "a constant pattern")]
            Regex::new(r"(?m)^[ \t]*(test_[A-Za-z0-9_]+)\b").unwrap()
        });
        let mut out = Vec::new();
        self.engine.set_input(regorus::Value::new_object());
        for f in files {
            let Some(pkg) = package_of(&f.text) else { continue };
            let mut seen = BTreeSet::new();
            for m in TEST_HEAD.captures_iter(&f.text) {
                let name = m[1].to_owned();
                if !seen.insert(name.clone()) {
                    continue;
                }
                let started = std::time::Instant::now();
                let r = self.engine.eval_rule(format!("data.{pkg}.{name}"));
                let (passed, error) = match r {
                    Ok(v) => (v == regorus::Value::from(true), None),
                    Err(e) => (false, Some(e.to_string())),
                };
                out.push(TestResult {
                    file: f.name.clone(),
                    package: pkg.clone(),
                    name,
                    passed,
                    error,
                    duration: started.elapsed(),
                });
            }
        }
        out
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TestResult {
    pub file: String,
    pub package: String,
    pub name: String,
    pub passed: bool,
    pub error: Option<String>,
    #[serde(serialize_with = "ser_ms")]
    pub duration: std::time::Duration,
}

fn ser_ms<S: serde::Serializer>(d: &std::time::Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

/// The `package a.b` of a Rego file.
pub fn package_of(text: &str) -> Option<String> {
    text.lines().map(str::trim).find_map(|l| l.strip_prefix("package ")).map(|p| p.trim().to_owned())
}

fn eval_error(rule: &str, e: &dyn std::fmt::Display) -> PolicyError {
    PolicyError::Evaluation(format!("{}: {e}", rule.trim_start_matches("data.")))
}

fn to_json(v: &regorus::Value) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}
