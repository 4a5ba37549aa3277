//! `if:` expressions. Operands are string literals (`'x'` or `"x"`), `true`/`false`,
//! references (`ci.branch`, `env.NAME`, `steps.<id>.outputs.<name>`) and GitLab-style
//! `$NAME`; operators `==`, `!=`, `&&`, `||`, `!`, parentheses; functions
//! `contains(a, b)`, `startsWith(a, b)`, `endsWith(a, b)`. A string is true when non-empty.

use super::interpolate::{Ref, Scope, parse_ref};

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Str(String),
    Bool(bool),
    Ref(Ref, usize),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Eq(Box<Expr>, Box<Expr>, bool),
    Call(Func, Vec<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    pub offset: usize,
    pub message: String,
    pub help: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Str(String),
    Word(String),
    Dollar(String),
    Op(&'static str),
}

fn err(offset: usize, message: impl Into<String>) -> ExprError {
    ExprError { offset, message: message.into(), help: None }
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, ExprError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
        if let Some(op) = ["==", "!=", "&&", "||"].into_iter().find(|op| *op == two) {
            out.push((Tok::Op(op), start));
            i += 2;
        } else if let Some(op) = ["!", "(", ")", ","].into_iter().find(|op| op.starts_with(c)) {
            out.push((Tok::Op(op), start));
            i += 1;
        } else if c == '\'' || c == '"' {
            let close = chars[i + 1..].iter().position(|&d| d == c).ok_or_else(|| err(start, "unclosed string"))?;
            out.push((Tok::Str(chars[i + 1..i + 1 + close].iter().collect()), start));
            i += close + 2;
        } else if c == '$' || c.is_ascii_alphanumeric() || c == '_' {
            let mut j = i + 1;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || matches!(chars[j], '_' | '.' | '-')) {
                j += 1;
            }
            let word: String = chars[i..j].iter().collect();
            if let Some(name) = word.strip_prefix('$') {
                out.push((Tok::Dollar(name.to_owned()), start));
            } else {
                out.push((Tok::Word(word), start));
            }
            i = j;
        } else {
            return Err(ExprError {
                offset: start,
                message: format!("unexpected `{c}`"),
                help: Some("operators are `==`, `!=`, `&&`, `||`, `!`".into()),
            });
        }
    }
    Ok(out)
}

struct P {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    end: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }
    fn offset(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |t| t.1)
    }
    fn eat(&mut self, op: &str) -> bool {
        if self.peek() == Some(&Tok::Op(leak(op))) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn or(&mut self) -> Result<Expr, ExprError> {
        let mut lhs = self.and()?;
        while self.eat("||") {
            lhs = Expr::Or(Box::new(lhs), Box::new(self.and()?));
        }
        Ok(lhs)
    }
    fn and(&mut self) -> Result<Expr, ExprError> {
        let mut lhs = self.unary()?;
        while self.eat("&&") {
            lhs = Expr::And(Box::new(lhs), Box::new(self.unary()?));
        }
        Ok(lhs)
    }
    fn unary(&mut self) -> Result<Expr, ExprError> {
        if self.eat("!") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        let lhs = self.primary()?;
        if self.eat("==") {
            return Ok(Expr::Eq(Box::new(lhs), Box::new(self.primary()?), true));
        }
        if self.eat("!=") {
            return Ok(Expr::Eq(Box::new(lhs), Box::new(self.primary()?), false));
        }
        Ok(lhs)
    }
    fn primary(&mut self) -> Result<Expr, ExprError> {
        let offset = self.offset();
        let Some((tok, _)) = self.toks.get(self.pos).cloned() else {
            return Err(err(offset, "expression ends too early"));
        };
        self.pos += 1;
        match tok {
            Tok::Op("(") => {
                let e = self.or()?;
                if !self.eat(")") {
                    return Err(err(self.offset(), "expected `)`"));
                }
                Ok(e)
            }
            Tok::Str(s) => Ok(Expr::Str(s)),
            Tok::Dollar(name) => Ok(Expr::Ref(Ref::Env(name), offset)),
            Tok::Word(w) if w == "true" || w == "false" => Ok(Expr::Bool(w == "true")),
            Tok::Word(w) if self.peek() == Some(&Tok::Op("(")) => {
                let func = match w.as_str() {
                    "contains" => Func::Contains,
                    "startsWith" => Func::StartsWith,
                    "endsWith" => Func::EndsWith,
                    _ => {
                        return Err(ExprError {
                            offset,
                            message: format!("unknown function `{w}`"),
                            help: Some("functions are `contains`, `startsWith`, `endsWith`".into()),
                        });
                    }
                };
                self.pos += 1;
                let mut args = vec![self.or()?];
                while self.eat(",") {
                    args.push(self.or()?);
                }
                if !self.eat(")") {
                    return Err(err(self.offset(), "expected `)` after the arguments"));
                }
                if args.len() != 2 {
                    return Err(err(offset, format!("`{w}` takes 2 arguments, got {}", args.len())));
                }
                Ok(Expr::Call(func, args))
            }
            Tok::Word(w) => parse_ref(&w).map(|r| Expr::Ref(r, offset)).map_err(|m| ExprError {
                offset,
                message: m,
                help: Some("quote string literals (`'main'`); references are `ci.<field>`, `env.<NAME>`, `$NAME` or `steps.<id>.outputs.<name>`".into()),
            }),
            Tok::Op(op) => Err(err(offset, format!("unexpected `{op}`"))),
        }
    }
}

fn leak(op: &str) -> &'static str {
    ["==", "!=", "&&", "||", "!", "(", ")", ","].into_iter().find(|o| *o == op).unwrap_or("")
}

#[derive(Debug, Clone, PartialEq)]
enum Val {
    Str(String),
    Bool(bool),
}

impl Val {
    fn truthy(&self) -> bool {
        match self {
            Val::Bool(b) => *b,
            Val::Str(s) => !s.is_empty(),
        }
    }
    fn text(self) -> String {
        match self {
            Val::Bool(b) => b.to_string(),
            Val::Str(s) => s,
        }
    }
}

impl Expr {
    pub fn parse(src: &str) -> Result<Expr, ExprError> {
        let toks = lex(src)?;
        let mut p = P { toks, pos: 0, end: src.chars().count() };
        let e = p.or()?;
        if p.pos < p.toks.len() {
            return Err(ExprError {
                offset: p.offset(),
                message: "unexpected text after the expression".into(),
                help: Some("combine conditions with `&&` or `||`".into()),
            });
        }
        Ok(e)
    }

    /// Every reference in the expression, with its char offset.
    pub fn refs(&self) -> Vec<(&Ref, usize)> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let Expr::Ref(r, o) = e {
                out.push((r, *o));
            }
        });
        out
    }

    fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        f(self);
        match self {
            Expr::Not(a) => a.walk(f),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Eq(a, b, _) => {
                a.walk(f);
                b.walk(f);
            }
            Expr::Call(_, args) => args.iter().for_each(|a| a.walk(f)),
            _ => {}
        }
    }

    pub fn eval(&self, scope: &dyn Scope) -> bool {
        self.value(scope).truthy()
    }

    fn value(&self, scope: &dyn Scope) -> Val {
        match self {
            Expr::Str(s) => Val::Str(s.clone()),
            Expr::Bool(b) => Val::Bool(*b),
            Expr::Ref(r, _) => Val::Str(
                match r {
                    Ref::Env(n) => scope.var(n),
                    Ref::Ci(f) => scope.ci(f),
                    Ref::StepOutput { step, output } => scope.output(step, output),
                }
                .unwrap_or_default(),
            ),
            Expr::Not(a) => Val::Bool(!a.value(scope).truthy()),
            Expr::And(a, b) => Val::Bool(a.value(scope).truthy() && b.value(scope).truthy()),
            Expr::Or(a, b) => Val::Bool(a.value(scope).truthy() || b.value(scope).truthy()),
            Expr::Eq(a, b, want) => Val::Bool((a.value(scope).text() == b.value(scope).text()) == *want),
            Expr::Call(func, args) => {
                let a = args[0].value(scope).text();
                let b = args[1].value(scope).text();
                Val::Bool(match func {
                    Func::Contains => a.contains(&b),
                    Func::StartsWith => a.starts_with(&b),
                    Func::EndsWith => a.ends_with(&b),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct S;
    impl Scope for S {
        fn var(&self, name: &str) -> Option<String> {
            (name == "CI_PIPELINE_SOURCE").then(|| "merge_request_event".into())
        }
        fn ci(&self, field: &str) -> Option<String> {
            (field == "branch").then(|| "release/1.2".into())
        }
        fn output(&self, _: &str, _: &str) -> Option<String> {
            None
        }
    }

    fn eval(s: &str) -> bool {
        Expr::parse(s).expect("parses").eval(&S)
    }

    #[test]
    fn evaluates_gitlab_and_dotted_forms() {
        assert!(eval("$CI_PIPELINE_SOURCE == 'merge_request_event'"));
        assert!(eval("env.CI_PIPELINE_SOURCE != \"push\" && startsWith(ci.branch, 'release/')"));
        assert!(!eval("ci.tag"));
        assert!(eval("!ci.tag || false"));
        assert!(eval("(ci.branch == 'main' || contains(ci.branch, '1.2')) && true"));
        assert!(!eval("$UNSET"));
    }

    #[test]
    fn reports_errors_with_offsets() {
        assert_eq!(Expr::parse("ci.branch == main").expect_err("bare word").offset, 13);
        assert_eq!(Expr::parse("ci.branch = 'x'").expect_err("single =").offset, 10);
        assert!(Expr::parse("(ci.branch").expect_err("paren").message.contains("`)`"));
        assert!(Expr::parse("foo(1, 2)").expect_err("func").message.contains("unknown function"));
        assert!(Expr::parse("ci.a ci.b").expect_err("juxtaposed").message.contains("after the expression"));
    }
}
