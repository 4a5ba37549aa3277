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

/// A file's findings, or why it could not be read.
type FileOutcome = Result<FileResult, Vec<InputError>>;

struct FileResult {
    name: String,
    text: Arc<str>,
    docs: Vec<(InputType, Option<String>)>,
    findings: Vec<Finding>,
    expired: Vec<super::waiver::Expired>,
    /// Documents the permissions budget looks at, across files.
    budgeted: Vec<Document>,
    unvalidated: Vec<String>,
}

/// What every file of a check shares.
#[derive(Clone, Copy)]
struct FileContext<'a> {
    opts: &'a CheckOptions,
    user: &'a [String],
    today: super::waiver::Date,
    budget: Option<&'a super::budget::Budget>,
    schemas: Option<&'a super::schema::Schemas>,
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
    if !opts.builtin && opts.policies.is_empty() {
        return Err(PolicyError::Usage("no policies: the built-in library is off and no --policy was given".into()));
    }
    let waivers = match &opts.waivers {
        Some(p) => super::waiver::from_file(p).map_err(PolicyError::Input)?,
        None if std::path::Path::new(super::waiver::DEFAULT_FILE).is_file() => {
            super::waiver::from_file(std::path::Path::new(super::waiver::DEFAULT_FILE)).map_err(PolicyError::Input)?
        }
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
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<FileOutcome>>> = Mutex::new((0..files.len()).map(|_| None).collect());
    let fatal: Mutex<Option<PolicyError>> = Mutex::new(None);
    let jobs = opts.jobs.clamp(1, files.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..jobs {
            let mut set = set.clone();
            let (next, results, fatal, files) = (&next, &results, &fatal, &files);
            let ctx = FileContext { opts, user: &user, today, budget: budget.as_ref(), schemas: schemas.as_ref() };
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= files.len() || fatal.lock().is_ok_and(|f| f.is_some()) {
                        break;
                    }
                    let r = check_file(&mut set, &files[i], &ctx);
                    let r = match r {
                        Ok(r) => r,
                        Err(e) => {
                            if let Ok(mut f) = fatal.lock() {
                                f.get_or_insert(e);
                            }
                            break;
                        }
                    };
                    if let Ok(mut all) = results.lock() {
                        all[i] = Some(r);
                    }
                }
            });
        }
    });
    if let Some(e) = fatal.into_inner().ok().flatten() {
        return Err(e);
    }
    let mut report = CheckReport { files: files.len(), docs: set.docs().clone(), ..CheckReport::default() };
    let mut errors = Vec::new();
    let mut budgeted = Vec::new();
    for r in results.into_inner().unwrap_or_default().into_iter().flatten() {
        match r {
            Err(e) => errors.extend(e),
            Ok(f) => {
                for (t, unchecked) in f.docs {
                    report.documents += 1;
                    *report.by_type.entry(t.name()).or_default() += 1;
                    report.unchecked.extend(unchecked);
                }
                report.expired.extend(f.expired);
                budgeted.extend(f.budgeted);
                report.unvalidated.extend(f.unvalidated);
                for x in f.findings {
                    report.file(x, &waivers, today);
                }
                report.sources.insert(f.name, f.text);
            }
        }
    }
    if !errors.is_empty() {
        return Err(PolicyError::Input(errors));
    }
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
    let key = |f: &Finding| (f.file.clone(), f.line, f.col, f.rule.clone(), f.message.clone());
    report.findings.sort_by_key(key);
    report.waived.sort_by_key(key);
    Ok(report)
}

fn check_file(set: &mut PolicySet, path: &std::path::Path, ctx: &FileContext<'_>) -> Result<FileOutcome, PolicyError> {
    let FileContext { opts, user, today, budget, schemas } = *ctx;
    let source = match input::read_source(path) {
        Ok(s) => Arc::new(s),
        Err(e) => return Ok(Err(vec![e])),
    };
    let docs = match input::parse(source.clone(), opts.input_type) {
        Ok(d) => d,
        Err(e) => return Ok(Err(vec![e])),
    };
    let mut all: Vec<Document> = Vec::new();
    for d in docs {
        if d.input_type == InputType::TerraformPlan {
            match super::terraform::derive(&d) {
                Ok(derived) => all.extend(derived),
                Err(e) => return Ok(Err(vec![e])),
            }
        }
        all.push(d);
    }
    let mut out = FileResult {
        name: source.name.clone(),
        text: source.text.clone(),
        docs: Vec::new(),
        findings: Vec::new(),
        expired: Vec::new(),
        budgeted: Vec::new(),
        unvalidated: Vec::new(),
    };
    if let Some(b) = budget {
        out.budgeted.extend(all.iter().filter(|d| b.relevant(d)).cloned());
    }
    for d in &all {
        let mut packages: Vec<&str> = user.iter().map(String::as_str).collect();
        if opts.builtin
            && let Some(p) = d.input_type.builtin_package()
        {
            packages.push(p);
        }
        // A document derived from a plan is seen by the built-in rules only; the
        // user's rules see the plan itself, as they would in conftest.
        if d.origin.is_some() {
            packages.retain(|p| p.starts_with("data.shipgate"));
        }
        let mut findings = Vec::new();
        if let Some(s) = schemas
            && d.input_type == InputType::Kubernetes
            && d.origin.is_none()
        {
            match s.validate(d)? {
                super::schema::Outcome::Valid => {}
                super::schema::Outcome::Invalid(f) => findings.extend(f),
                super::schema::Outcome::NoSchema(what) => out.unvalidated.push(what),
            }
        }
        let unchecked = (packages.is_empty()
            && findings.is_empty()
            && !(schemas.is_some() && d.input_type == InputType::Kubernetes))
            .then(|| format!("{}: {}", d.source.name, d.resource()));
        out.docs.push((d.input_type, unchecked));
        if !packages.is_empty() {
            let results = set
                .evaluate(&d.value, &packages)
                .map_err(|e| PolicyError::Evaluation(format!("{} ({}): {e}", d.source.name, d.resource())))?;
            findings.extend(results.iter().map(|r| Finding::from_result(d, r, set.docs())));
        }
        let annotated = match d.value["metadata"]["annotations"][super::waiver::ANNOTATION].as_str() {
            Some(text) => {
                let span = d.locate(&["metadata".into(), "annotations".into(), super::waiver::ANNOTATION.into()]);
                match super::waiver::from_annotation(text, &d.source.name, span) {
                    Ok(w) => w,
                    Err(e) => return Ok(Err(vec![e])),
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
    }
    Ok(Ok(out))
}
