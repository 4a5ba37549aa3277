//! Paths to YAML nodes: `image.tag`, `spec.template.spec.containers[name=api].image`,
//! `images[0].newTag`, and `a\.b.c` for a key that contains a dot.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
    /// `[field=value]`: the list item whose `field` is `value`.
    Match {
        field: String,
        value: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path(pub Vec<Segment>);

/// Which document of a multi-document file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DocSelector {
    /// The only document (an error when there are several).
    #[default]
    Only,
    Index(usize),
    /// A Kubernetes object by `kind` and `metadata.name` (either may be omitted).
    Object {
        kind: Option<String>,
        name: Option<String>,
    },
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Segment::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(&k.replace('.', "\\."))?;
                }
                Segment::Index(n) => write!(f, "[{n}]")?,
                Segment::Match { field, value } => write!(f, "[{field}={value}]")?,
            }
        }
        Ok(())
    }
}

impl Path {
    pub fn parse(text: &str) -> Result<Path, String> {
        let mut segs = Vec::new();
        let mut key = String::new();
        let mut chars = text.chars().peekable();
        let mut after_bracket = false;
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(n @ ('.' | '[' | ']' | '\\')) => key.push(n),
                    _ => return Err(format!("`{text}`: `\\` escapes only `.`, `[`, `]` or `\\`")),
                },
                '.' => {
                    if key.is_empty() && !after_bracket {
                        return Err(format!("`{text}`: empty key"));
                    }
                    if !key.is_empty() {
                        segs.push(Segment::Key(std::mem::take(&mut key)));
                    }
                    after_bracket = false;
                }
                '[' => {
                    if !key.is_empty() {
                        segs.push(Segment::Key(std::mem::take(&mut key)));
                    }
                    let mut inner = String::new();
                    loop {
                        match chars.next() {
                            Some(']') => break,
                            Some(ch) => inner.push(ch),
                            None => return Err(format!("`{text}`: unclosed `[`")),
                        }
                    }
                    let seg = match inner.split_once('=') {
                        Some((f, v)) if !f.trim().is_empty() => Segment::Match {
                            field: f.trim().to_owned(),
                            value: v.trim().trim_matches(['"', '\'']).to_owned(),
                        },
                        Some(_) => return Err(format!("`{text}`: `[{inner}]` needs a field name before `=`")),
                        None => Segment::Index(
                            inner
                                .trim()
                                .parse()
                                .map_err(|_| format!("`{text}`: `[{inner}]` is neither an index nor `field=value`"))?,
                        ),
                    };
                    segs.push(seg);
                    after_bracket = true;
                }
                c => {
                    if after_bracket {
                        return Err(format!("`{text}`: expected `.` or `[` after `]`"));
                    }
                    key.push(c);
                }
            }
        }
        if !key.is_empty() {
            segs.push(Segment::Key(key));
        } else if segs.is_empty() || text.ends_with('.') {
            return Err(format!("`{text}`: empty path"));
        }
        Ok(Path(segs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_indices_matches_and_escapes() {
        let p = Path::parse("spec.template.spec.containers[name=api].image").expect("parses");
        assert_eq!(p.0.len(), 6);
        assert_eq!(p.0[3], Segment::Key("containers".into()));
        assert_eq!(p.0[4], Segment::Match { field: "name".into(), value: "api".into() });
        assert_eq!(Path::parse("images[0].newTag").expect("parses").0[1], Segment::Index(0));
        assert_eq!(
            Path::parse(r"annotations.argocd\.argoproj\.io/sync-wave").expect("parses").0[1],
            Segment::Key("argocd.argoproj.io/sync-wave".into())
        );
        assert_eq!(
            Path::parse("images[name=shop/api].newTag").expect("parses").to_string(),
            "images[name=shop/api].newTag"
        );
        for bad in ["", "a..b", "a.", "a[", "a[x]", "a[0]b", "[=x]"] {
            assert!(Path::parse(bad).is_err(), "{bad:?} should fail");
        }
    }
}
