//! A prompt set: the captions `replicant prompts sample` drew from a training set, one JSON
//! object a line, each naming the training image its caption came from. A generator makes one
//! image per line (named after its `id`), and the scan links each generation back to its line.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::Path;

/// One line of a prompt set.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PromptLine {
    /// The prompt's identity: name the generation after it (`ID.png`), or give it in the
    /// generation's sidecar or metadata file (`id`).
    pub id: String,
    /// The caption, to be given to the generator as its prompt.
    pub prompt: String,
    /// A seed for the generator, drawn from the sampling seed (so a rerun makes the same
    /// images).
    pub seed: u64,
    /// The training image the caption belongs to (its name, as a scan lists it).
    pub training: String,
    /// blake3 of the training image's bytes (hex): how a match is known to be this image.
    pub training_hash: String,
    /// img2dataset's key and url of the training image's sample, for a shard member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// What links a generation to the prompt it was made from: the prompt's id and its caption's
/// training image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PromptLink {
    /// The prompt's id in its set.
    pub id: String,
    /// The training image whose caption the prompt is (its name).
    pub training: String,
    /// blake3 of that training image's bytes (hex).
    pub training_hash: String,
}

impl PromptLine {
    /// The link of a generation made from this prompt.
    pub fn link(&self) -> PromptLink {
        PromptLink {
            id: self.id.clone(),
            training: self.training.clone(),
            training_hash: self.training_hash.clone(),
        }
    }
}

/// Writes `lines` to `out` as a prompt set, one JSON object a line, in their order.
pub fn write_lines(lines: &[PromptLine], out: &mut dyn Write) -> std::io::Result<()> {
    for line in lines {
        serde_json::to_writer(&mut *out, line)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// A prompt set read from its file, by id.
#[derive(Debug, Clone, Default)]
pub struct PromptSet {
    by_id: HashMap<String, PromptLine>,
}

impl PromptSet {
    /// Reads a prompt set file. A line that is not a prompt, or repeats an id, is an error
    /// naming the line: a set is written by `replicant prompts sample`, so damage is worth
    /// stopping for.
    pub fn read(path: &Path) -> Result<Self, String> {
        let file = std::fs::File::open(path).map_err(|e| {
            format!(
                "{}: cannot open the prompt set ({e}); give the file `replicant prompts sample` wrote",
                path.display()
            )
        })?;
        let mut by_id = HashMap::new();
        for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| format!("{}: line {}: {e}", path.display(), n + 1))?;
            if line.trim().is_empty() {
                continue;
            }
            let prompt: PromptLine = serde_json::from_str(&line).map_err(|e| {
                format!(
                    "{}: line {} is not a prompt ({e}); each line needs id, prompt, seed, training and training_hash",
                    path.display(),
                    n + 1
                )
            })?;
            if let Some(earlier) = by_id.insert(prompt.id.clone(), prompt) {
                return Err(format!(
                    "{}: line {} repeats the id {:?}; ids must be unique",
                    path.display(),
                    n + 1,
                    earlier.id
                ));
            }
        }
        Ok(Self { by_id })
    }

    /// How many prompts the set holds.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The prompt a generation was made from: the one whose id its sidecar or metadata file
    /// gives, else the one named by its file name without the extension, if the set holds it.
    pub fn line_of(&self, rel_path: &str, given: Option<&str>) -> Option<&PromptLine> {
        let id = given.unwrap_or_else(|| {
            let name = rel_path.rsplit('/').next().unwrap_or(rel_path);
            name.rsplit_once('.').map_or(name, |(stem, _)| stem)
        });
        self.by_id.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: &str) -> PromptLine {
        PromptLine {
            id: id.into(),
            prompt: format!("caption {id}"),
            seed: 7,
            training: format!("{id}.jpg"),
            training_hash: "00".repeat(32),
            key: None,
            url: None,
        }
    }

    #[test]
    fn a_set_round_trips_and_links_generations_by_name_or_given_id() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("prompts.jsonl");
        let mut bytes = Vec::new();
        write_lines(&[line("p000001"), line("p000002")], &mut bytes).expect("write");
        std::fs::write(&path, &bytes).expect("save");
        let read = PromptSet::read(&path).expect("read");
        assert_eq!(read.len(), 2);
        assert_eq!(read.line_of("p000002.png", None), Some(&line("p000002")));
        let id_of =
            |rel: &str, given: Option<&str>| read.line_of(rel, given).map(|l| l.id.as_str());
        assert_eq!(id_of("out/p000001.png", None), Some("p000001"));
        assert_eq!(id_of("out/p000009.png", None), None);
        assert_eq!(id_of("img_0.png", Some("p000002")), Some("p000002"));
        // A given id that the set does not hold links nothing (the name is not tried).
        assert_eq!(id_of("p000001.png", Some("other")), None);
    }

    #[test]
    fn a_damaged_or_repeated_line_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("prompts.jsonl");
        let good = serde_json::to_string(&line("a")).expect("json");
        std::fs::write(&path, format!("{good}\n{{\"id\": 3}}\n")).expect("save");
        let error = PromptSet::read(&path).expect_err("damaged");
        assert!(error.contains("line 2 is not a prompt"), "{error}");
        std::fs::write(&path, format!("{good}\n\n{good}\n")).expect("save");
        let error = PromptSet::read(&path).expect_err("repeated");
        assert!(error.contains("line 3 repeats the id \"a\""), "{error}");
    }
}
