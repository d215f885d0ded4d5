//! The auto / on / off switches that scan options share (`--regions`, `--shortlist`), parsed
//! once so every switch accepts the same words and names itself in its error.

/// A parsed switch word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Switch {
    Auto,
    On,
    Off,
}

/// Parses `text` (auto; on, yes, true; off, no, false; any case) for the switch named `what`.
pub(crate) fn parse_switch(text: &str, what: &str) -> Result<Switch, String> {
    match text.to_ascii_lowercase().as_str() {
        "auto" => Ok(Switch::Auto),
        "on" | "yes" | "true" => Ok(Switch::On),
        "off" | "no" | "false" => Ok(Switch::Off),
        other => Err(format!("unknown {what} {other:?}; use auto, on or off")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_parse_and_unknown_ones_name_the_switch() {
        assert_eq!(parse_switch("YES", "region mode"), Ok(Switch::On));
        assert_eq!(parse_switch("false", "region mode"), Ok(Switch::Off));
        assert_eq!(parse_switch("Auto", "region mode"), Ok(Switch::Auto));
        let err = parse_switch("maybe", "shortlist mode").expect_err("unknown");
        assert!(err.starts_with("unknown shortlist mode \"maybe\""), "{err}");
    }
}
