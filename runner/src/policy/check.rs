//! `shipgate check` / `policy.check`: read every input, evaluate the built-in library
//! and the user's policies on each document (in parallel), and collect findings.
//! Fails closed: unreadable input, a policy that does not compile or an evaluation
//! error is an error, never a pass.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::PolicyError;
use super::detect::InputType;
use super::engine::{PolicyFile, PolicySet};
use super::finding::{Finding, Severity};
use super::input::{self, Document, InputError};

#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub paths: Vec<PathBuf>,
    /// Rego files or folders of the user's policies (`*_test.rego` left out).
    pub policies: Vec<PathBuf>,
    pub data: Vec<PathBuf>,
    /// Namespaces of the user's policies to evaluate (default `main`).
    pub namespaces: Vec<String>,
    pub all_namespaces: bool,
    pub input_type: Option<InputType>,
    /// Evaluate the built-in library (`data.shipgate.*`).
    pub builtin: bool,
    /// The waiver file (default: `.shipgate-waivers.yaml` when it exists).
    pub waivers: Option<PathBuf>,
    /// The least-privilege budget (`--permissions`).
    pub permissions: Option<PathBuf>,
    /// A CRD schema catalog (`{group}/{kind}_{version}.json`), before the built-in schemas.
    pub schema_dir: Option<PathBuf>,
    pub jobs: usize,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            paths: Vec::new(),
            policies: Vec::new(),
            data: Vec::new(),
            namespaces: vec!["main".into()],
            all_namespaces: false,
            input_type: None,
            builtin: true,
            waivers: None,
            permissions: None,
            schema_dir: None,
            jobs: std::thread::available_parallelism().map_or(1, usize::from),
        }
    }
}

#[derive(Debug, Default, serde::Serialize)]
pub struct CheckReport {
    /// Findings that count, sorted by file, line, rule.
    pub findings: Vec<Finding>,
    /// Findings an exception or waiver covers: listed, never hidden.
    pub waived: Vec<Finding>,
    pub files: usize,
    pub documents: usize,
    pub by_type: BTreeMap<&'static str, usize>,
    /// Waivers past their expiry date: they no longer waive.
    pub expired: Vec<super::waiver::Expired>,
    /// Kubernetes documents whose kind has no schema: not validated (never passed).
    pub unvalidated: Vec<String>,
    /// Documents no policy looked at (unknown type and no user policy selected).
    pub unchecked: Vec<String>,
    #[serde(skip)]
    pub sources: BTreeMap<String, Arc<str>>,
    /// The documentation of the rules (from METADATA), by id.
    #[serde(skip)]
    pub docs: BTreeMap<String, super::metadata::RuleDoc>,
}

impl CheckReport {
    /// Whether the gate denies at this threshold.
    pub fn denied(&self, fail_on: Severity) -> bool {
        self.findings.iter().any(|f| f.severity <= fail_on)
    }

    /// Files a finding as counting or waived, after the waiver file had its say.
    fn file(&mut self, mut f: Finding, waivers: &[super::waiver::Waiver], today: super::waiver::Date) {
        for w in waivers {
            w.apply(&mut f, today, &mut self.expired);
        }
        if f.waived.is_some() { self.waived.push(f) } else { self.findings.push(f) }
    }

    pub fn count(&self, s: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == s).count()
    }
}

/// Rego files under `paths` (folders recursively), sorted; tests only when `tests`.
pub fn policy_files(paths: &[PathBuf], tests: bool) -> Result<Vec<PolicyFile>, PolicyError> {
    let mut files = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| {
            PolicyError::Usage(format!("cannot read policies at {}: {}", p.display(), input::io_reason(&e)))
        })?;
        let mut found = Vec::new();
        if meta.is_dir() {
            rego_walk(p, &mut found)?;
            if found.is_empty() {
                return Err(PolicyError::Usage(format!("{} holds no .rego files", p.display())));
            }
        } else {
            found.push(p.clone());
        }
        for f in found {
            let is_test = f.file_stem().is_some_and(|s| s.to_string_lossy().ends_with("_test"));
            if is_test && !tests {
                continue;
            }
            let text = std::fs::read_to_string(&f)
                .map_err(|e| PolicyError::Usage(format!("cannot read {}: {}", f.display(), input::io_reason(&e))))?;
            files.push(PolicyFile { name: f.display().to_string(), text, builtin: false });
        }
    }
    Ok(files)
}

fn rego_walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) -> Result<(), PolicyError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| PolicyError::Usage(format!("cannot read {}: {}", dir.display(), input::io_reason(&e))))?
        .filter_map(Result::ok)
        .map(|e| (e.path(), e.file_type().is_ok_and(|t| t.is_dir())))
        .collect();
    entries.sort();
    for (p, is_dir) in entries {
        // Symlinked folders are not followed.
        if is_dir {
            if !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
                rego_walk(&p, out)?;
            }
        } else if p.extension().is_some_and(|x| x == "rego") {
            out.push(p);
        }
    }
    Ok(())
}

/// Reads `--data` files (JSON or YAML).
pub fn data_files(paths: &[PathBuf]) -> Result<Vec<Value>, PolicyError> {
    let mut out = Vec::new();
    for p in paths {
        let src = input::read_source(p).map_err(|e| PolicyError::Usage(format!("{}: {}", e.file, e.message)))?;
        let (docs, _) = crate::yaml::parse_documents(&src.text)
            .map_err(|e| PolicyError::Usage(format!("{}:{}: {}", p.display(), e.span.start.line, e.message)))?;
        for d in docs {
            let v = d.to_json();
            if !v.is_object() {
                return Err(PolicyError::Usage(format!("{}: a data document must be a mapping", p.display())));
            }
            out.push(v);
        }
    }
    Ok(out)
}

/// Compiles the built-in library and the user's policies.
pub fn compile(opts: &CheckOptions) -> Result<PolicySet, PolicyError> {
    let mut files = if opts.builtin { super::builtin::files() } else { Vec::new() };
    files.extend(policy_files(&opts.policies, false)?);
    PolicySet::compile(&files, data_files(&opts.data)?)
}

pub fn check(opts: &CheckOptions) -> Result<CheckReport, PolicyError> {
    if opts.paths.is_empty() {
        return Err(PolicyError::Usage("nothing to check: name files, folders or `-`".into()));
    }
    if opts.paths.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
        return Err(PolicyError::Usage("`-` (stdin) can be given once".into()));
    }
    let set = compile(opts)?;
    let user = set.select(&opts.namespaces, opts.all_namespaces);
    if !opts.policies.is_empty() && user.is_empty() {
        let found = set.user_namespaces();
        return Err(PolicyError::Usage(format!(
            "no policy in namespace {} (the policies define: {})",
            opts.namespaces.join(", "),
            if found.is_empty() { "none".to_owned() } else { found.join(", ") }
        )));
    }
    if !opts.policies.is_empty() && !opts.all_namespaces {
        let defined = set.user_namespaces();
        let missing: Vec<&String> = opts.namespaces.iter().filter(|n| !defined.contains(n)).collect();
        if !missing.is_empty() && !user.is_empty() {
            return Err(PolicyError::Usage(format!(
                "no policy in namespace {} (the policies define: {})",
                missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                defined.join(", ")
            )));
        }
    }
    if !opts.builtin && opts.policies.is_empty() {
        return Err(PolicyError::Usage("no policies: the built-in library is off and no --policy was given".into()));
    }
    let default_waivers = std::path::Path::new(super::waiver::DEFAULT_FILE);
    let waivers = match opts.waivers.as_deref().or_else(|| default_waivers.is_file().then_some(default_waivers)) {
        Some(p) => super::waiver::from_file(p).map_err(PolicyError::Input)?,
        None => Vec::new(),
    };
    let budget = match &opts.permissions {
        Some(p) => Some(super::budget::load(p).map_err(PolicyError::Input)?),
        None => None,
    };
    // Schema validation is part of the built-in checks, or asked for with a catalog.
    let schemas = if opts.builtin || opts.schema_dir.is_some() {
        Some(super::schema::Schemas::new(opts.schema_dir.clone())?)
    } else {
        None
    };
    let today = super::waiver::Date::today();
    let files = input::collect_files(&opts.paths)?;
    let jobs = opts.jobs.max(1);
    // Phase 1, by file: read, parse, derive the Terraform plans' IAM documents.
    let loaded = par_map(&files, jobs, || (), |_, path| Ok(load_file(path, opts.input_type)))?;
    let mut report = CheckReport { files: files.len(), docs: set.docs().clone(), ..CheckReport::default() };
    let mut errors = Vec::new();
    let mut docs: Vec<Document> = Vec::new();
    for l in loaded {
        match l {
            Err(e) => errors.extend(e),
            Ok((source, d)) => {
                report.sources.insert(source.name.clone(), source.text.clone());
                docs.extend(d);
            }
        }
    }
    if !errors.is_empty() {
        return Err(PolicyError::Input(errors));
    }
    // Phase 2, by document (so that one big stream, `helm template | shipgate check -`,
    // is checked in parallel too).
    let ctx = DocContext { opts, user: &user, today, schemas: schemas.as_ref() };
    let checked = par_map(&docs, jobs, || set.clone(), |set, d| check_doc(set, d, &ctx))?;
    let mut annotation_errors = Vec::new();
    for (d, r) in docs.iter().zip(checked) {
        report.documents += 1;
        *report.by_type.entry(d.input_type.name()).or_default() += 1;
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                annotation_errors.push(e);
                continue;
            }
        };
        report.unchecked.extend(r.unchecked);
        report.unvalidated.extend(r.unvalidated);
        report.expired.extend(r.expired);
        for x in r.findings {
            report.file(x, &waivers, today);
        }
    }
    if !annotation_errors.is_empty() {
        return Err(PolicyError::Input(annotation_errors));
    }
    let budgeted: Vec<Document> = match &budget {
        Some(b) => docs.iter().filter(|d| b.relevant(d)).cloned().collect(),
        None => Vec::new(),
    };
    if schemas.is_some() {
        let d = super::schema::doc();
        report.docs.insert(d.id.clone(), d);
    }
    if let Some(b) = &budget {
        report.docs.extend(super::budget::docs().into_iter().map(|d| (d.id.clone(), d)));
        for x in b.check(&budgeted) {
            report.file(x, &waivers, today);
        }
    }
    if report.documents == 0 {
        return Err(PolicyError::Usage(format!(
            "no documents to check in {}",
            opts.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        )));
    }
    // Documents were read, but no policy and no schema looked at any of them.
    if report.unchecked.len() == report.documents {
        return Err(PolicyError::Usage(format!(
            "no policy applies to any of the {} document{} (unknown types; give --input-type or --policy)",
            report.documents,
            if report.documents == 1 { "" } else { "s" }
        )));
    }
    let key = |f: &Finding| (f.file.clone(), f.line, f.col, f.rule.clone(), f.message.clone());
    report.findings.sort_by_key(key);
    report.waived.sort_by_key(key);
    Ok(report)
}

/// Runs `f` on every item with `jobs` threads, each with its own state from `init`;
/// results in the items' order. The first error stops the others.
fn par_map<T: Sync, R: Send, S>(
    items: &[T],
    jobs: usize,
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, &T) -> Result<R, PolicyError> + Sync,
) -> Result<Vec<R>, PolicyError> {
    const CHUNK: usize = 8;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    let fatal: Mutex<Option<PolicyError>> = Mutex::new(None);
    let threads = jobs.clamp(1, items.len().div_ceil(CHUNK).max(1));
    std::thread::scope(|s| {
        for _ in 0..threads {
            let (next, results, fatal, init, f) = (&next, &results, &fatal, &init, &f);
            s.spawn(move || {
                let mut state = init();
                loop {
                    let start = next.fetch_add(CHUNK, Ordering::Relaxed);
                    if start >= items.len() || fatal.lock().is_ok_and(|e| e.is_some()) {
                        break;
                    }
                    let mut done = Vec::new();
                    for (k, item) in items[start..(start + CHUNK).min(items.len())].iter().enumerate() {
                        match f(&mut state, item) {
                            Ok(r) => done.push((start + k, r)),
                            Err(e) => {
                                if let Ok(mut slot) = fatal.lock() {
                                    slot.get_or_insert(e);
                                }
                                return;
                            }
                        }
                    }
                    if let Ok(mut all) = results.lock() {
                        for (k, r) in done {
                            all[k] = Some(r);
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = fatal.into_inner().ok().flatten() {
        return Err(e);
    }
    Ok(results.into_inner().unwrap_or_default().into_iter().flatten().collect())
}

/// Reads and parses one file; a Terraform plan brings the documents derived from it.
fn load_file(
    path: &std::path::Path,
    forced: Option<InputType>,
) -> Result<(Arc<input::Source>, Vec<Document>), Vec<InputError>> {
    let source = Arc::new(input::read_source(path).map_err(|e| vec![e])?);
    let docs = input::parse(source.clone(), forced).map_err(|e| vec![e])?;
    let mut all = Vec::new();
    for d in docs {
        if d.input_type == InputType::TerraformPlan {
            all.extend(super::terraform::derive(&d).map_err(|e| vec![e])?);
        }
        all.push(d);
    }
    Ok((source, all))
}

/// What every document of a check shares.
#[derive(Clone, Copy)]
struct DocContext<'a> {
    opts: &'a CheckOptions,
    user: &'a [String],
    today: super::waiver::Date,
    schemas: Option<&'a super::schema::Schemas>,
}

/// One document's findings (annotation waivers applied), or its broken annotation.
#[derive(Default)]
struct DocResult {
    findings: Vec<Finding>,
    expired: Vec<super::waiver::Expired>,
    unchecked: Option<String>,
    unvalidated: Option<String>,
}

fn check_doc(
    set: &mut PolicySet,
    d: &Document,
    ctx: &DocContext<'_>,
) -> Result<Result<DocResult, InputError>, PolicyError> {
    let DocContext { opts, user, today, schemas } = *ctx;
    let mut out = DocResult::default();
    let mut packages: Vec<&str> = user.iter().map(String::as_str).collect();
    if opts.builtin
        && let Some(p) = d.input_type.builtin_package()
    {
        packages.push(p);
    }
    // A document derived from a plan is seen by the built-in rules only; the user's
    // rules see the plan itself, as they would in conftest.
    if d.origin.is_some() {
        packages.retain(|p| p.starts_with("data.shipgate"));
    }
    let mut findings = Vec::new();
    let validated = schemas.is_some() && d.input_type == InputType::Kubernetes && d.origin.is_none();
    if let Some(s) = schemas.filter(|_| validated) {
        match s.validate(d)? {
            super::schema::Outcome::Valid => {}
            super::schema::Outcome::Invalid(f) => findings.extend(f),
            super::schema::Outcome::NoSchema(what) => out.unvalidated = Some(what),
        }
    }
    if packages.is_empty() && !validated {
        out.unchecked = Some(format!("{}: {}", d.source.name, d.resource()));
    }
    if !packages.is_empty() {
        let results = set
            .evaluate(&d.value, &packages)
            .map_err(|e| PolicyError::Evaluation(format!("{} ({}): {e}", d.source.name, d.resource())))?;
        findings.extend(results.iter().map(|r| Finding::from_result(d, r, set.docs(), set.rule_id(&r.rule))));
    }
    let annotated = match d.value["metadata"]["annotations"][super::waiver::ANNOTATION].as_str() {
        Some(text) => {
            let span = d.locate(&["metadata".into(), "annotations".into(), super::waiver::ANNOTATION.into()]);
            match super::waiver::from_annotation(text, &d.source.name, span) {
                Ok(w) => w,
                Err(e) => return Ok(Err(e)),
            }
        }
        None => Vec::new(),
    };
    for mut f in findings {
        for w in &annotated {
            w.apply(&mut f, today, &mut out.expired);
        }
        out.findings.push(f);
    }
    Ok(Ok(out))
}
