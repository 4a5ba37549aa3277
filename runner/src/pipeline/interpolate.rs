//! Templates: `${VAR}`, `${VAR:-default}`, `$$` (a literal `$`) and `${{ <reference> }}`
//! where a reference is `steps.<id>.outputs.<name>`, `env.<NAME>` or `ci.<field>`.

use std::fmt;

/// What a `${{ … }}` refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ref {
    StepOutput { step: String, output: String },
    Env(String),
    Ci(String),
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ref::StepOutput { step, output } => write!(f, "steps.{step}.outputs.{output}"),
            Ref::Env(n) => write!(f, "env.{n}"),
            Ref::Ci(n) => write!(f, "ci.{n}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Lit(String),
    Var {
        name: String,
        default: Option<String>,
    },
    /// A reference with its char offset and length in the template text.
    Ref {
        target: Ref,
        offset: usize,
        len: usize,
    },
}

/// Which syntax a template understands. In `run:` commands only `${{ … }}` is ours:
/// `$VAR`, `${VAR}` and `$$` belong to the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Full,
    RefsOnly,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub offset: usize,
    pub len: usize,
    pub message: String,
    pub help: Option<String>,
}

/// Looks up values while rendering.
pub trait Scope {
    fn var(&self, name: &str) -> Option<String>;
    fn ci(&self, field: &str) -> Option<String>;
    fn output(&self, step: &str, name: &str) -> Option<String>;
}

pub fn is_var_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub fn is_step_id(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Parses a dotted reference (`steps.build.outputs.image`, `env.X`, `ci.branch`).
pub fn parse_ref(text: &str) -> Result<Ref, String> {
    let parts: Vec<&str> = text.split('.').collect();
    match parts.as_slice() {
        ["steps", step, "outputs", output] if is_step_id(step) && is_step_id(output) => {
            Ok(Ref::StepOutput { step: (*step).into(), output: (*output).into() })
        }
        ["env", name] if is_var_name(name) => Ok(Ref::Env((*name).into())),
        ["ci", field] if is_var_name(field) => Ok(Ref::Ci((*field).into())),
        ["steps", ..] => Err(format!("`{text}` is not a step output reference")),
        _ => Err(format!("unknown reference `{text}`")),
    }
}

const REF_HELP: &str = "references are `steps.<id>.outputs.<name>`, `env.<NAME>` or `ci.<field>`";

impl Template {
    pub fn parse(text: &str, mode: Mode) -> Result<Template, TemplateError> {
        let chars: Vec<char> = text.chars().collect();
        let mut segments = Vec::new();
        let mut lit = String::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            if c != '$' {
                lit.push(c);
                i += 1;
                continue;
            }
            if next == Some('{') && chars.get(i + 2) == Some(&'{') {
                let start = i;
                let body_start = i + 3;
                let close =
                    (body_start..chars.len().saturating_sub(1)).find(|&j| chars[j] == '}' && chars[j + 1] == '}');
                let Some(close) = close else {
                    return Err(TemplateError {
                        offset: start,
                        len: 3,
                        message: "unclosed `${{`".into(),
                        help: Some("close the reference with `}}`".into()),
                    });
                };
                let body: String = chars[body_start..close].iter().collect();
                let target = parse_ref(body.trim()).map_err(|message| TemplateError {
                    offset: start,
                    len: close + 2 - start,
                    message,
                    help: Some(REF_HELP.into()),
                })?;
                flush(&mut lit, &mut segments);
                segments.push(Segment::Ref { target, offset: start, len: close + 2 - start });
                i = close + 2;
                continue;
            }
            if mode == Mode::RefsOnly {
                lit.push(c);
                i += 1;
                continue;
            }
            match next {
                Some('$') => {
                    lit.push('$');
                    i += 2;
                }
                Some('{') => {
                    let close = (i + 2..chars.len()).find(|&j| chars[j] == '}').ok_or_else(|| TemplateError {
                        offset: i,
                        len: 2,
                        message: "unclosed `${`".into(),
                        help: Some("close the variable with `}`, or write `$$` for a literal `$`".into()),
                    })?;
                    let body: String = chars[i + 2..close].iter().collect();
                    let (name, default) = match body.split_once(":-") {
                        Some((n, d)) => (n.to_owned(), Some(d.to_owned())),
                        None => (body.clone(), None),
                    };
                    if !is_var_name(&name) {
                        return Err(TemplateError {
                            offset: i,
                            len: close + 1 - i,
                            message: format!("`{name}` is not a variable name"),
                            help: Some("write `${NAME}` or `${NAME:-default}`; `${{ … }}` for references".into()),
                        });
                    }
                    flush(&mut lit, &mut segments);
                    segments.push(Segment::Var { name, default });
                    i = close + 1;
                }
                _ => {
                    lit.push('$');
                    i += 1;
                }
            }
        }
        flush(&mut lit, &mut segments);
        Ok(Template { segments })
    }

    pub fn refs(&self) -> impl Iterator<Item = (&Ref, usize, usize)> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Ref { target, offset, len } => Some((target, *offset, *len)),
            _ => None,
        })
    }

    pub fn vars(&self) -> impl Iterator<Item = (&str, bool)> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Var { name, default } => Some((name.as_str(), default.is_some())),
            _ => None,
        })
    }

    pub fn is_literal(&self) -> bool {
        self.segments.iter().all(|s| matches!(s, Segment::Lit(_)))
    }

    /// Renders the template. Unset variables without a default are returned as errors
    /// (all of them), never silently replaced by an empty string.
    pub fn render(&self, scope: &dyn Scope) -> Result<String, Vec<String>> {
        let mut out = String::new();
        let mut missing = Vec::new();
        for seg in &self.segments {
            match seg {
                Segment::Lit(s) => out.push_str(s),
                Segment::Var { name, default } => match (scope.var(name), default) {
                    (Some(v), Some(d)) if v.is_empty() => out.push_str(d),
                    (Some(v), _) => out.push_str(&v),
                    (None, Some(d)) => out.push_str(d),
                    (None, None) => missing.push(format!("variable `{name}` is not set")),
                },
                Segment::Ref { target, .. } => {
                    let value = match target {
                        Ref::StepOutput { step, output } => scope.output(step, output),
                        Ref::Env(name) => scope.var(name),
                        Ref::Ci(field) => Some(scope.ci(field).unwrap_or_default()),
                    };
                    match value {
                        Some(v) => out.push_str(&v),
                        None => missing.push(format!("`{target}` has no value")),
                    }
                }
            }
        }
        if missing.is_empty() { Ok(out) } else { Err(missing) }
    }
}

fn flush(lit: &mut String, segments: &mut Vec<Segment>) {
    if !lit.is_empty() {
        segments.push(Segment::Lit(std::mem::take(lit)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct S;
    impl Scope for S {
        fn var(&self, name: &str) -> Option<String> {
            match name {
                "IMAGE" => Some("reg/app".into()),
                "EMPTY" => Some(String::new()),
                _ => None,
            }
        }
        fn ci(&self, field: &str) -> Option<String> {
            (field == "commit_sha").then(|| "abc123".into())
        }
        fn output(&self, step: &str, name: &str) -> Option<String> {
            (step == "build" && name == "digest").then(|| "sha256:ff".into())
        }
    }

    fn render(s: &str, mode: Mode) -> Result<String, Vec<String>> {
        Template::parse(s, mode).expect("parses").render(&S)
    }

    #[test]
    fn renders_variables_defaults_and_references() {
        assert_eq!(render("${IMAGE}:${{ ci.commit_sha }}", Mode::Full).as_deref(), Ok("reg/app:abc123"));
        assert_eq!(render("${NOPE:-x}/${EMPTY:-y}", Mode::Full).as_deref(), Ok("x/y"));
        assert_eq!(render("${{steps.build.outputs.digest}}", Mode::Full).as_deref(), Ok("sha256:ff"));
        assert_eq!(render("cost $$5 and $HOME", Mode::Full).as_deref(), Ok("cost $5 and $HOME"));
    }

    #[test]
    fn run_mode_leaves_shell_syntax_alone() {
        assert_eq!(
            render("echo ${IMAGE} $$ ${{ ci.commit_sha }}", Mode::RefsOnly).as_deref(),
            Ok("echo ${IMAGE} $$ abc123")
        );
    }

    #[test]
    fn unset_variables_are_errors() {
        assert_eq!(
            render("${A}${B}", Mode::Full),
            Err(vec!["variable `A` is not set".into(), "variable `B` is not set".into()])
        );
    }

    #[test]
    fn syntax_errors_point_at_the_offset() {
        let e = Template::parse("ab ${{ steps.x.outputs.y ", Mode::Full).expect_err("unclosed");
        assert_eq!((e.offset, e.message.as_str()), (3, "unclosed `${{`"));
        let e = Template::parse("x ${{ step.a }}", Mode::Full).expect_err("bad ref");
        assert_eq!(e.offset, 2);
        assert!(e.message.contains("unknown reference"));
        let e = Template::parse("${A-B}", Mode::Full).expect_err("bad name");
        assert!(e.message.contains("not a variable name"));
    }
}
