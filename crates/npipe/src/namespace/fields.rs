//! The text format of the namespace's small state files (`meta`): one
//! `key=value` a line, values percent-escaped where a name could break a
//! line. Shared by pipes and mailslots.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;

use super::AllowList;

/// Builds a file's text, one field a line.
#[derive(Debug, Default)]
pub(crate) struct FieldWriter {
    text: String,
}

impl FieldWriter {
    /// Adds a field whose value is printed as it is (numbers, booleans,
    /// fixed words).
    pub fn field(mut self, key: &str, value: impl Display) -> Self {
        self.text.push_str(&format!("{key}={value}\n"));
        self
    }

    /// Adds a text field that may hold any character but NUL.
    pub fn text(self, key: &str, value: &str) -> Self {
        self.field(key, escape(value))
    }

    /// Adds the three fields of an allow list.
    pub fn allow(self, allow: &AllowList) -> Self {
        let list = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        self.field("allow_everyone", allow.everyone)
            .field("allow_uids", list(&allow.uids))
            .field("allow_gids", list(&allow.gids))
    }

    pub fn finish(self) -> String {
        self.text
    }
}

/// A parsed file; every getter answers `None` for a missing or malformed
/// field, so a torn or foreign file is refused as a whole.
#[derive(Debug)]
pub(crate) struct Fields<'a> {
    map: HashMap<&'a str, &'a str>,
}

impl<'a> Fields<'a> {
    /// `None` if a line has no `=`.
    pub fn parse(text: &'a str) -> Option<Fields<'a>> {
        let mut map = HashMap::new();
        for line in text.lines() {
            let (k, v) = line.split_once('=')?;
            map.insert(k, v);
        }
        Some(Fields { map })
    }

    /// The raw value of a field.
    pub fn raw(&self, key: &str) -> Option<&'a str> {
        self.map.get(key).copied()
    }

    /// A field parsed as `T` (a number or a boolean).
    pub fn value<T: FromStr>(&self, key: &str) -> Option<T> {
        self.raw(key)?.parse().ok()
    }

    /// A text field written with [`FieldWriter::text`].
    pub fn text(&self, key: &str) -> Option<String> {
        unescape(self.raw(key)?)
    }

    /// The allow list written with [`FieldWriter::allow`].
    pub fn allow(&self) -> Option<AllowList> {
        let list = |key: &str| -> Option<Vec<u32>> {
            let v = self.raw(key)?;
            if v.is_empty() {
                return Some(Vec::new());
            }
            v.split(',').map(|s| s.parse().ok()).collect()
        };
        Some(AllowList {
            everyone: self.value("allow_everyone")?,
            uids: list("allow_uids")?,
            gids: list("allow_gids")?,
        })
    }
}

/// `%`, newline and carriage return are percent-escaped so the file stays
/// one field a line.
fn escape(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\n', "%0A")
        .replace('\r', "%0D")
}

fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        out.push(match rest.get(i + 1..i + 3)? {
            "25" => '%',
            "0A" => '\n',
            "0D" => '\r',
            _ => return None,
        });
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_with_awkward_text() {
        let allow = AllowList {
            everyone: false,
            uids: vec![1, 2],
            gids: vec![],
        };
        let text = FieldWriter::default()
            .text("name", "a%b\nc\rd=e")
            .field("n", 42)
            .allow(&allow)
            .finish();
        let fields = Fields::parse(&text).unwrap();
        assert_eq!(fields.text("name").as_deref(), Some("a%b\nc\rd=e"));
        assert_eq!(fields.value::<u32>("n"), Some(42));
        assert_eq!(fields.allow(), Some(allow));
        assert_eq!(fields.value::<u32>("missing"), None);
    }

    #[test]
    fn malformed_escapes_and_lines_are_refused() {
        assert!(Fields::parse("no equals sign").is_none());
        let fields = Fields::parse("name=%zz\n").unwrap();
        assert_eq!(fields.text("name"), None);
    }
}
