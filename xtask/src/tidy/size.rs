//! The house style's size limits: no file over 800 lines, no function over 100, each with an
//! allow-list that can only shrink.

use super::{SourceFile, is_product, is_test_file, lexer, python};

pub const FILE_LIMIT: usize = 800;
pub const FUNCTION_LIMIT: usize = 100;

/// An exception to a limit: `key` (a path, or `path::function`) may measure up to `limit`
/// lines, for the reason given; remove it once the code is within the limit.
pub type Allowance = (&'static str, usize, &'static str);

/// One measured thing: its allow-list key, where it starts, and its size in lines.
#[derive(Debug)]
pub struct Measured {
    pub key: String,
    pub location: String,
    pub lines: usize,
}

/// Every non-test Rust and Python file's length.
pub fn files(sources: &[SourceFile]) -> Vec<Measured> {
    sources
        .iter()
        .filter(|file| !is_test_file(&file.path))
        .map(|file| Measured {
            key: file.path.clone(),
            location: format!("{}:1", file.path),
            lines: file.text.lines().count(),
        })
        .collect()
}

/// Every product function's length (Rust outside `#[cfg(test)]` modules; Python `def`s).
pub fn functions(sources: &[SourceFile]) -> Vec<Measured> {
    let mut measured = Vec::new();
    for file in sources.iter().filter(|file| is_product(&file.path)) {
        let spans: Vec<(String, usize, usize)> = if file.path.ends_with(".rs") {
            let spans = lexer::functions(&lexer::product_tokens(&file.text));
            spans
                .into_iter()
                .map(|s| (s.name.clone(), s.line, s.lines()))
                .collect()
        } else {
            let spans = python::defs(&file.text);
            spans
                .into_iter()
                .map(|s| (s.name.clone(), s.line, s.lines()))
                .collect()
        };
        measured.extend(spans.into_iter().map(|(name, line, lines)| Measured {
            key: format!("{}::{name}", file.path),
            location: format!("{}:{line}", file.path),
            lines,
        }));
    }
    measured
}

/// What breaks the limit: a thing over it and not allowed, a thing larger than its allowance,
/// an allowance nothing needs any more.
pub fn check(
    measured: &[Measured],
    limit: usize,
    allowed: &[Allowance],
    rule: &str,
) -> Vec<String> {
    let mut problems = Vec::new();
    for item in measured.iter().filter(|item| item.lines > limit) {
        match allowed.iter().find(|(key, _, _)| *key == item.key) {
            None => problems.push(format!(
                "{}: `{}` is {} lines, over the {limit}-line limit; split it ({rule})",
                item.location, item.key, item.lines
            )),
            Some((_, allowance, _)) if item.lines > *allowance => problems.push(format!(
                "{}: `{}` is {} lines, more than the {allowance} its allow-list entry permits: the \
                 list only shrinks; split it ({rule})",
                item.location, item.key, item.lines
            )),
            Some(_) => {}
        }
    }
    for (key, _, _) in allowed {
        if !measured
            .iter()
            .any(|item| item.key == *key && item.lines > limit)
        {
            problems.push(format!(
                "xtask/src/tidy/allow.rs: the allow-list entry `{key}` is no longer needed (within \
                 the {limit}-line limit, or gone); remove it ({rule})"
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(key: &str, lines: usize) -> Measured {
        Measured {
            key: key.to_owned(),
            location: format!("{key}:1"),
            lines,
        }
    }

    #[test]
    fn the_allow_list_only_shrinks() {
        let measured = [
            item("a.rs", 900),
            item("b.rs", 950),
            item("c.rs", 700),
            item("d.rs", 801),
        ];
        let allowed: [Allowance; 3] = [
            ("a.rs", 900, "why"),
            ("b.rs", 900, "why"),
            ("c.rs", 850, "why"),
        ];
        let problems = check(&measured, 800, &allowed, "rule");
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(
            problems[0].contains("`b.rs` is 950 lines, more than the 900"),
            "{problems:#?}"
        );
        assert!(
            problems[1].contains("`d.rs` is 801 lines, over the 800-line limit"),
            "{problems:#?}"
        );
        assert!(
            problems[2].contains("entry `c.rs` is no longer needed"),
            "{problems:#?}"
        );
    }
}
