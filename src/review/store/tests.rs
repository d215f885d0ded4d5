//! Tests of [`super`] (`src/review/store.rs`).

use super::*;

fn key(g: &str) -> PairKey {
    PairKey::new(&format!("{g}-hash"), "t-hash")
}

fn names(g: &str) -> (&str, &str) {
    (g, "t.png")
}

fn context() -> PairContext {
    PairContext {
        rank: 1,
        similarity: 0.9,
        model_key: "m".into(),
        ..PairContext::default()
    }
}

#[test]
fn labels_notes_and_history_survive_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("review.sqlite");
    {
        let mut store = ReviewStore::open(&path).expect("open");
        store
            .set_label(
                &key("a"),
                names("a"),
                Some(Label::NearCopy),
                "ann",
                &context(),
            )
            .expect("label");
        store
            .set_note(
                &key("a"),
                names("a"),
                "the tree is copied",
                "ann",
                &context(),
            )
            .expect("note");
        store
            .set_label(
                &key("b"),
                names("b"),
                Some(Label::Distinct),
                "bob",
                &context(),
            )
            .expect("label");
    }
    let mut store = ReviewStore::open(&path).expect("reopen");
    let a = store.get(&key("a")).expect("get").expect("record");
    assert_eq!(a.label, Some(Label::NearCopy));
    assert_eq!(a.note, "the tree is copied");
    assert_eq!((a.generation.as_str(), a.training.as_str()), ("a", "t.png"));
    assert!(a.labelled_at.ends_with('Z'));
    // Undo works across the restart: b, then a's note, then a's label.
    assert_eq!(store.undo().expect("undo")[0].key, key("b"));
    assert_eq!(store.get(&key("b")).expect("get"), None);
    store.undo().expect("undo");
    assert_eq!(store.get(&key("a")).expect("get").expect("record").note, "");
    store.redo().expect("redo");
    assert_eq!(
        store.get(&key("a")).expect("get").expect("record").note,
        "the tree is copied"
    );
    assert_eq!(store.undo_redo_depth().expect("depth"), (2, 1));
    // Read-only, the same labels.
    drop(store);
    let read = ReviewStore::open_read_only(&path).expect("read-only");
    assert_eq!(read.all().expect("all").len(), 1);
}

#[test]
fn a_new_change_abandons_the_redo_stack_but_keeps_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = ReviewStore::open(&dir.path().join("r.sqlite")).expect("open");
    store
        .set_label(
            &key("a"),
            names("a"),
            Some(Label::FullCopy),
            "x",
            &context(),
        )
        .expect("label");
    store.undo().expect("undo");
    store
        .set_label(
            &key("a"),
            names("a"),
            Some(Label::Distinct),
            "x",
            &context(),
        )
        .expect("label");
    assert!(store.redo().expect("redo").is_empty());
    assert_eq!(
        store.get(&key("a")).expect("get").expect("record").label,
        Some(Label::Distinct)
    );
    let rows: i64 = store
        .conn
        .query_row("SELECT count(*) FROM history", [], |r| r.get(0))
        .expect("count");
    assert_eq!(rows, 2);
    store
        .set_label(&key("a"), names("a"), None, "x", &context())
        .expect("clear");
    assert_eq!(
        store.get(&key("a")).expect("get").expect("record").label,
        None
    );
}

/// Regression: an unknown label value in the store read as "no label", and a damaged
/// context as an empty one; both are now errors naming the row.
#[test]
fn an_unknown_label_or_a_damaged_row_is_refused_not_read_as_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = ReviewStore::open(&dir.path().join("r.sqlite")).expect("open");
    store
        .set_label(
            &key("a"),
            names("a"),
            Some(Label::FullCopy),
            "x",
            &context(),
        )
        .expect("label");
    store
        .conn
        .execute("UPDATE labels SET label = 'maybe'", [])
        .expect("tamper");
    let err = store.all().expect_err("unknown label");
    assert!(
        err.to_string().contains("unknown label value \"maybe\""),
        "{err}"
    );
    assert!(store.get(&key("a")).is_err());
    store
        .conn
        .execute(
            "UPDATE labels SET label = 'distinct', context = '{broken'",
            [],
        )
        .expect("tamper");
    let err = store.all().expect_err("damaged context");
    assert!(err.to_string().contains("damaged context"), "{err}");
}

/// Regression: undo deleted a label when the history record it went back to failed to
/// parse; it is now an error, and the label stays.
#[test]
fn undo_over_a_damaged_history_record_is_an_error_and_keeps_the_label() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = ReviewStore::open(&dir.path().join("r.sqlite")).expect("open");
    store
        .set_label(
            &key("a"),
            names("a"),
            Some(Label::FullCopy),
            "x",
            &context(),
        )
        .expect("label");
    store
        .set_label(
            &key("a"),
            names("a"),
            Some(Label::NearCopy),
            "x",
            &context(),
        )
        .expect("label");
    store
        .conn
        .execute(
            "UPDATE history SET before = '{not json' WHERE seq = (SELECT max(seq) FROM history)",
            [],
        )
        .expect("tamper");
    let err = store.undo().expect_err("damaged history");
    assert!(err.to_string().contains("history entry"), "{err}");
    assert_eq!(
        store.get(&key("a")).expect("get").and_then(|r| r.label),
        Some(Label::NearCopy)
    );
}

/// The message for a full disk says to free space, not that the store is damaged.
#[test]
fn a_full_disk_is_named_as_such() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = ReviewStore::open(&dir.path().join("r.sqlite")).expect("open");
    let pages: i64 = store
        .conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .expect("pages");
    store
        .conn
        .execute_batch(&format!("PRAGMA max_page_count = {pages}"))
        .expect("cap");
    let long_note = "n".repeat(64 * 1024);
    let err = store
        .set_note(&key("a"), names("a"), &long_note, "x", &context())
        .expect_err("full");
    assert!(matches!(err, ReviewError::DiskFull { .. }), "{err}");
    assert!(err.to_string().contains("disk is full"), "{err}");
}

#[test]
fn a_bulk_label_is_one_undo_step() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = ReviewStore::open(&dir.path().join("r.sqlite")).expect("open");
    store
        .set_label(
            &key("a"),
            names("a"),
            Some(Label::NearCopy),
            "x",
            &context(),
        )
        .expect("label");
    let pairs: Vec<PairToLabel> = ["a", "b", "c"]
        .iter()
        .map(|g| (key(g), (g.to_string(), "t.png".to_string()), context()))
        .collect();
    let records = store
        .set_labels(&pairs, Some(Label::Distinct), "x")
        .expect("bulk");
    assert_eq!(records.len(), 3);
    let undone = store.undo().expect("undo");
    assert_eq!(undone.len(), 3, "one undo takes the whole bulk label back");
    assert_eq!(
        store.get(&key("a")).expect("get").and_then(|r| r.label),
        Some(Label::NearCopy),
        "a's earlier label is back"
    );
    assert_eq!(store.get(&key("b")).expect("get"), None);
    let redone = store.redo().expect("redo");
    assert_eq!(redone.len(), 3);
    assert_eq!(
        store.get(&key("c")).expect("get").and_then(|r| r.label),
        Some(Label::Distinct)
    );
    // The single label before the bulk one is still its own step.
    store.undo().expect("undo bulk");
    assert_eq!(store.undo().expect("undo single").len(), 1);
    assert_eq!(store.get(&key("a")).expect("get"), None);
}

#[test]
fn label_names_parse() {
    for label in Label::ALL {
        assert_eq!(Label::parse(label.as_str()), Some(label));
    }
    assert_eq!(Label::parse("near-copy"), Some(Label::NearCopy));
    assert_eq!(Label::parse("maybe"), None);
}
