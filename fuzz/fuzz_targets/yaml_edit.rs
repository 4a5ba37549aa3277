//! The YAML editor on arbitrary input: any (file, path, value) either edits exactly —
//! one single-line region changes, the file parses to the new value (a second edit with
//! the same value changes nothing) — or is refused with an error. Never a panic, never
//! a corrupted file.
//!
//! Input layout: `PATH \0 VALUE \0 YAML…` (missing parts fall back to `image.tag`, `v2`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use shipgate::gitops::{DocSelector, NewValue, Path, edit_scalar};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(3, '\0');
    let (path, value, src) = match (parts.next(), parts.next(), parts.next()) {
        (Some(p), Some(v), Some(s)) => (p, v, s),
        _ => ("image.tag", "v2", text),
    };
    let Ok(path) = Path::parse(path) else { return };
    for sel in [DocSelector::Only, DocSelector::Index(1)] {
        let value = NewValue::Str(value.to_owned());
        let Ok((out, outcome)) = edit_scalar(src, &sel, &path, &value) else { continue };
        if !outcome.changed {
            assert_eq!(out, src, "an unchanged edit rewrote the file");
            continue;
        }
        let prefix = src.bytes().zip(out.bytes()).take_while(|(a, b)| a == b).count();
        let suffix = src.bytes().rev().zip(out.bytes().rev()).take_while(|(a, b)| a == b).count();
        let old = &src.as_bytes()[prefix..src.len().saturating_sub(suffix).max(prefix)];
        assert!(!old.contains(&b'\n'), "a line break changed: {src:?} -> {out:?}");
        let (again, second) = edit_scalar(&out, &sel, &path, &value).expect("the edited file can be edited again");
        assert!(!second.changed, "the edited file does not hold the value: {src:?} -> {out:?}");
        assert_eq!(again, out);
    }
});
