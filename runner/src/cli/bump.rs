//! `shipgate bump REPO --set FILE:PATH=VALUE …`: the `gitops.bump` step as a command.

use std::io::Write;

use super::args::{BumpArgs, Format};
use super::{Global, error};
use crate::exit::ExitCode;
use crate::gitops::forge::MergeRequestSpec;
use crate::gitops::image::{ImageEdit, ImageVersion, repository};
use crate::gitops::options::{Mode, author};
use crate::gitops::repo::{BumpError, BumpOptions, Edit};
use crate::gitops::{DocSelector, NewValue, Path};
use crate::steps::gitops_bump::{run_bump, summary};

fn parse_set(s: &str, doc: &DocSelector, create: bool) -> Result<Edit, String> {
    let (file, rest) = s.split_once(':').ok_or_else(|| format!("`{s}` is not FILE:PATH=VALUE"))?;
    let (path, value) = split_path_value(rest).ok_or_else(|| format!("`{s}` is not FILE:PATH=VALUE"))?;
    Ok(Edit::Set {
        file: file.into(),
        doc: doc.clone(),
        path: Path::parse(path)?,
        value: NewValue::Str(value.into()),
        create,
    })
}

/// Splits `PATH=VALUE` at the first `=` outside `[…]` selectors, so that
/// `parameters[name=image.tag].value=1.4.2` keeps its selector.
fn split_path_value(s: &str) -> Option<(&str, &str)> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '=' if depth == 0 => return Some((&s[..i], &s[i + 1..])),
            _ => {}
        }
    }
    None
}

fn parse_doc(s: Option<&str>) -> Result<DocSelector, String> {
    match s {
        None => Ok(DocSelector::Only),
        Some(d) => match d.parse() {
            Ok(i) => Ok(DocSelector::Index(i)),
            Err(_) => {
                let (kind, name) = d.split_once('/').ok_or_else(|| format!("`--doc {d}` is an index or KIND/NAME"))?;
                Ok(DocSelector::Object { kind: Some(kind.into()), name: Some(name.into()) })
            }
        },
    }
}

fn parse_image(s: &str, files: &[String]) -> Result<Edit, String> {
    let version = if let Some((_, d)) = s.split_once('@') {
        ImageVersion::Digest(d.into())
    } else {
        let repo = repository(s);
        let tag = s
            .get(repo.len() + 1..)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| format!("`--image {s}` needs :TAG or @DIGEST"))?;
        ImageVersion::Tag(tag.into())
    };
    let files = if files.is_empty() { vec![String::new()] } else { files.to_vec() };
    Ok(Edit::Image { files, edit: ImageEdit { name: repository(s).into(), version } })
}

pub(crate) fn bump(g: &Global, a: BumpArgs) -> ExitCode {
    type Built = (Vec<Edit>, Option<crate::gitops::forge::MergeRequestTarget>);
    let built: Result<Built, String> = (|| {
        let doc = parse_doc(a.doc.as_deref())?;
        let mut edits = a.sets.iter().map(|s| parse_set(s, &doc, a.create)).collect::<Result<Vec<_>, _>>()?;
        if let Some(img) = &a.image {
            edits.push(parse_image(img, &a.image_files)?);
        }
        if edits.is_empty() {
            return Err("nothing to change: give --set or --image".into());
        }
        let spec = MergeRequestSpec {
            forge: a.forge,
            api_url: a.api_url.clone(),
            project: a.project.clone(),
            title: a.title.clone(),
            labels: a.labels.clone(),
            name: a.name.clone(),
        };
        let mr = match a.mode {
            Mode::MergeRequest => Some(spec.resolve(&a.repo, a.branch.as_deref(), &edits)?),
            Mode::Push
                if spec.forge.is_some()
                    || spec.api_url.is_some()
                    || spec.project.is_some()
                    || spec.title.is_some()
                    || !spec.labels.is_empty()
                    || spec.name.is_some() =>
            {
                return Err(
                    "--forge, --api-url, --project, --title, --label and --name need --mode merge-request".into()
                );
            }
            Mode::Push => None,
        };
        Ok((edits, mr))
    })();
    let (edits, merge_request) = match built {
        Ok(e) => e,
        Err(m) => {
            error(g, &m, Some("see `shipgate bump --help`"));
            return ExitCode::Usage;
        }
    };
    let opts = BumpOptions {
        repo: a.repo.clone(),
        branch: a.branch,
        edits,
        message: a.message.unwrap_or_else(|| "chore(gitops): bump by shipgate".into()),
        author: author(a.author.as_deref()),
        dry_run: a.dry_run,
        max_attempts: 10,
        merge_request,
        take_turns: BumpOptions::take_turns_from_env(),
    };
    let runtime = match super::runtime(g) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(run_bump(opts)) {
        Ok(r) => {
            let text = match a.format {
                Format::Json => serde_json::to_string_pretty(&r).unwrap_or_default() + "\n",
                Format::Human => {
                    let mut t = summary(&r, &a.repo).join("\n") + "\n";
                    if a.dry_run {
                        t.push_str(&r.diff);
                    }
                    t
                }
            };
            let _ = std::io::stdout().write_all(text.as_bytes());
            ExitCode::Success
        }
        Err(BumpError::Edit(m)) => {
            error(g, &format!("failed to bump: {m}"), Some("nothing was pushed"));
            ExitCode::Usage
        }
        Err(BumpError::Git(m)) => {
            error(
                g,
                &format!("failed to bump: {m}"),
                Some(
                    "check the repository URL, the branch and the credentials (GITOPS_TOKEN, CI_JOB_TOKEN, GITHUB_TOKEN; GITOPS_SSH_KEY or an SSH agent); nothing was pushed",
                ),
            );
            ExitCode::Infrastructure
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split_path_value;

    #[test]
    fn set_values_split_outside_selectors() {
        assert_eq!(
            split_path_value("spec.source.helm.parameters[name=image.tag].value=1.4.2"),
            Some(("spec.source.helm.parameters[name=image.tag].value", "1.4.2"))
        );
        assert_eq!(split_path_value("image.tag=a=b"), Some(("image.tag", "a=b")));
        assert_eq!(split_path_value("images[name=x]"), None);
    }
}
