//! `$SHIPGATE_OUTPUT`: `name=value` lines, or `name<<DELIM` … `DELIM` for multi-line values.

use indexmap::IndexMap;

pub fn parse_outputs(text: &str) -> Result<IndexMap<String, String>, String> {
    let mut out = IndexMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim().is_empty() {
            continue;
        }
        if let Some((name, delim)) = line.split_once("<<")
            && !name.contains('=')
        {
            let mut value = Vec::new();
            let mut closed = false;
            for l in lines.by_ref() {
                if l == delim {
                    closed = true;
                    break;
                }
                value.push(l);
            }
            if !closed {
                return Err(format!("output `{name}`: no closing `{delim}` line"));
            }
            out.insert(name.trim().to_owned(), value.join("\n"));
            continue;
        }
        match line.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                out.insert(name.trim().to_owned(), value.to_owned());
            }
            _ => return Err(format!("`{line}` is not a `name=value` line")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_simple_and_heredoc_outputs() {
        let o = parse_outputs("a=1\nb=x=y\nnotes<<EOF\nl1\nl2\nEOF\n").expect("parses");
        assert_eq!(o.get("a").map(String::as_str), Some("1"));
        assert_eq!(o.get("b").map(String::as_str), Some("x=y"));
        assert_eq!(o.get("notes").map(String::as_str), Some("l1\nl2"));
        assert!(parse_outputs("oops\n").is_err());
        assert!(parse_outputs("n<<END\nx\n").is_err());
    }
}
