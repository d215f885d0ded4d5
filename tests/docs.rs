//! The documentation book (`docs/`, an mdBook): every relative link and anchor in the README
//! and the book resolves, every page is in the book's contents, and the command reference is
//! the commands' own `--help` (regenerate with `UPDATE_DOCS=1 cargo test --test docs`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The book's pages and the README.
fn pages() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    pages.push(root().join("README.md"));
    pages
}

/// The targets of a Markdown page's inline links, `[text](target)`, outside code.
fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        // Inline code spans are not links.
        let prose: String = line
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, part)| part)
            .collect::<Vec<_>>()
            .join(" ");
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            found.push(after[..end].trim().to_string());
            rest = &after[end..];
        }
    }
    found
}

/// A heading's anchor as mdBook and GitHub make it: lower case, spaces to hyphens, other
/// punctuation dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    let mut in_fence = false;
    let mut anchors = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        } else if !in_fence && line.starts_with('#') {
            anchors.insert(slug(line.trim_start_matches('#')));
        }
    }
    anchors
}

#[test]
fn every_link_in_the_readme_and_the_book_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).expect("page");
        for target in links(&text) {
            if target.starts_with("http://")
                || target.starts_with("https://")
                || target.starts_with("mailto:")
            {
                continue;
            }
            checked += 1;
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target.as_str(), None),
            };
            let file = if path.is_empty() {
                page.clone()
            } else {
                page.parent().expect("folder").join(path)
            };
            if !file.exists() {
                broken.push(format!("{}: {target} (no such file)", page.display()));
                continue;
            }
            if let Some(anchor) = anchor {
                let target_text = std::fs::read_to_string(&file).unwrap_or_default();
                if !anchors(&target_text).contains(anchor) {
                    broken.push(format!("{}: {target} (no such heading)", page.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(
        checked >= 15,
        "only {checked} relative links found: is the parser right?"
    );
}

#[test]
fn every_page_is_in_the_books_contents() {
    let summary = std::fs::read_to_string(root().join("docs/SUMMARY.md")).expect("SUMMARY.md");
    let listed: BTreeSet<String> = links(&summary).into_iter().collect();
    for page in pages() {
        let name = page
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        if name == "SUMMARY.md" || page.parent() != Some(&root().join("docs")) {
            continue;
        }
        assert!(
            listed.contains(&name),
            "docs/{name} is not in docs/SUMMARY.md"
        );
    }
}

/// The subcommands a `--help` lists under "Commands:".
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("    "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect()
}

fn help(args: &[String]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_replicant"))
        .args(args)
        .arg("--help")
        .env("COLUMNS", "100")
        .output()
        .expect("run replicant");
    assert!(output.status.success(), "{args:?} --help failed");
    String::from_utf8(output.stdout).expect("utf-8")
}

/// The reference page: every command's help, depth first.
fn reference() -> String {
    let mut page = String::from(
        "# Command reference\n\nEvery command's `--help`, as the binary prints it (this page is \
         generated: `UPDATE_DOCS=1 cargo test --test docs`; a test fails when it differs).\n",
    );
    let mut queue = vec![Vec::<String>::new()];
    while let Some(args) = queue.pop() {
        let text = help(&args);
        let title = if args.is_empty() {
            "replicant".to_string()
        } else {
            format!("replicant {}", args.join(" "))
        };
        page.push_str(&format!(
            "\n## `{title}`\n\n```text\n{}\n```\n",
            text.trim_end()
        ));
        let mut children: Vec<Vec<String>> = subcommands(&text)
            .into_iter()
            .map(|c| args.iter().cloned().chain([c]).collect())
            .collect();
        children.reverse();
        queue.extend(children);
    }
    page
}

#[test]
fn the_command_reference_is_the_commands_help() {
    let path = root().join("docs/commands.md");
    let expected = reference();
    assert!(expected.contains("## `replicant scan`"), "no scan command?");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &expected).expect("write docs/commands.md");
    }
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        written == expected,
        "docs/commands.md differs from the commands' --help; regenerate it with \
         `UPDATE_DOCS=1 cargo test --test docs`"
    );
}

#[test]
fn links_and_anchors_are_read_as_mdbook_makes_them() {
    assert_eq!(
        links("see [a](x.md#b-c) and `[not](code.md)` [c](../y.md)"),
        ["x.md#b-c", "../y.md"]
    );
    assert_eq!(
        slug(" The levers by kind of copy, and their cost"),
        "the-levers-by-kind-of-copy-and-their-cost"
    );
    assert_eq!(slug("`--regions on`: windows"), "--regions-on-windows");
    assert!(Path::new(&root()).join("docs/book.toml").is_file());
}
