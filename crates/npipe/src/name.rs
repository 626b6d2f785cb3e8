//! Pipe and mailslot names: parse, validate, fold case.
//!
//! A name has one of these forms, as on Windows (see Microsoft's
//! [Pipe Names] and [Mailslot Names]):
//!
//! | Form | Meaning |
//! |---|---|
//! | `\\.\pipe\PATH` | a named pipe on this computer |
//! | `\\SERVER\pipe\PATH` | a named pipe on the computer `SERVER` |
//! | `\\.\mailslot\PATH` | a mailslot on this computer |
//! | `\\SERVER\mailslot\PATH` | a mailslot on a computer, or every mailslot of a domain |
//! | `\\*\mailslot\PATH` | every mailslot of that name in the primary domain |
//!
//! The words `pipe` and `mailslot` may be written in any case. Only
//! backslashes separate the parts; a forward slash in their place is an
//! error. `PATH` is taken literally: it may hold backslashes
//! (`\\.\pipe\a\b\c`), end in one (which then counts), and hold forward
//! slashes, other punctuation and Unicode, but not NUL. The whole name is
//! at most [`MAX_NAME_LEN`] characters.
//!
//! Names compare without regard to case: each character is mapped to its
//! upper case when that is a single character, the way Windows folds names
//! with its one-to-one upcase table. [`PipeName::key`] gives the folded
//! identity that the namespace uses. [`PipeName`] shows an example.
//!
//! [Pipe Names]: https://learn.microsoft.com/en-us/windows/win32/ipc/pipe-names
//! [Mailslot Names]: https://learn.microsoft.com/en-us/windows/win32/ipc/mailslot-names

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use crate::{Error, Result};

/// The longest name accepted, in characters (not bytes), counting the
/// leading `\\`, the host and the `pipe` or `mailslot` word.
///
/// Microsoft's [Pipe Names] page gives the same limit.
///
/// [Pipe Names]: https://learn.microsoft.com/en-us/windows/win32/ipc/pipe-names
pub const MAX_NAME_LEN: usize = 256;

/// Whether a name is a pipe name or a mailslot name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NameKind {
    /// `\\HOST\pipe\PATH`: a named pipe.
    Pipe,
    /// `\\HOST\mailslot\PATH`: a mailslot.
    Mailslot,
}

impl NameKind {
    /// The word in the name, in lower case: `"pipe"` or `"mailslot"`.
    fn word(self) -> &'static str {
        match self {
            NameKind::Pipe => "pipe",
            NameKind::Mailslot => "mailslot",
        }
    }
}

/// The computer part of a name, between the leading `\\` and `\pipe\` or
/// `\mailslot\`.
///
/// Hosts compare without regard to case, so `Server("BUILD")` equals
/// `Server("build")`. No name is resolved: `Server("localhost")` is not
/// [`Host::Local`].
///
/// ```
/// use npipe::name::{Host, PipeName};
///
/// let name = PipeName::parse(r"\\Builder\pipe\status")?;
/// assert_eq!(name.host(), &Host::Server("BUILDER".into()));
/// assert_eq!(name.host().to_string(), "Builder");
/// # Ok::<(), npipe::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Host {
    /// `.`: this computer.
    Local,
    /// A computer name, or for mailslots also a domain name, as written.
    Server(String),
    /// `*`: every computer in the primary domain. Mailslots only.
    Everywhere,
}

impl Host {
    /// The host as written in a name: `.`, `*` or the server name.
    fn as_str(&self) -> &str {
        match self {
            Host::Local => ".",
            Host::Server(name) => name,
            Host::Everywhere => "*",
        }
    }
}

impl PartialEq for Host {
    fn eq(&self, other: &Host) -> bool {
        match (self, other) {
            (Host::Local, Host::Local) | (Host::Everywhere, Host::Everywhere) => true,
            (Host::Server(a), Host::Server(b)) => {
                a.chars().map(fold_char).eq(b.chars().map(fold_char))
            }
            _ => false,
        }
    }
}

impl Eq for Host {}

impl Hash for Host {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        if let Host::Server(name) = self {
            let mut count = 0usize;
            for c in name.chars() {
                fold_char(c).hash(state);
                count += 1;
            }
            state.write_usize(count);
        }
    }
}

impl fmt::Display for Host {
    /// Prints the host as written in a name: `.`, `*` or the server name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A valid pipe or mailslot name, such as `\\.\pipe\build`.
///
/// Make one with [`PipeName::parse`] (or `str::parse`, or `TryFrom<&str>`),
/// or with [`PipeName::local`] from the part after `\pipe\`. The name keeps
/// its spelling for display and error messages; equality and hashing ignore
/// case (see the [module docs](crate::name)).
///
/// ```
/// use npipe::name::{Host, NameKind, PipeName};
///
/// let name = PipeName::parse(r"\\.\pipe\Build\Status")?;
/// assert_eq!(name.kind(), NameKind::Pipe);
/// assert_eq!(name.host(), &Host::Local);
/// assert_eq!(name.path(), r"Build\Status");
/// assert_eq!(name.key(), r"pipe\BUILD\STATUS");
/// assert_eq!(name.to_string(), r"\\.\pipe\Build\Status");
/// assert_eq!(name, PipeName::parse(r"\\.\PIPE\build\status")?);
/// # Ok::<(), npipe::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct PipeName {
    /// The whole name as given.
    name: String,
    kind: NameKind,
    host: Host,
    /// Byte offset of the path in `name`.
    path_start: usize,
    /// `pipe\` or `mailslot\` followed by the folded path.
    key: String,
}

impl PipeName {
    /// Parses and checks a pipe or mailslot name.
    ///
    /// # Errors
    ///
    /// [`Error::BadPathname`] (`ERROR_BAD_PATHNAME`) when the name does not
    /// have one of the forms in the [module docs](crate::name), uses forward slashes
    /// as separators, names the host `*` for a pipe, has an empty path, holds
    /// a NUL character, or is longer than [`MAX_NAME_LEN`] characters. The
    /// error's `name` is the input and its `reason` says which rule failed.
    ///
    /// ```
    /// use npipe::name::PipeName;
    ///
    /// let err = PipeName::parse(r"\\*\pipe\status").unwrap_err();
    /// assert_eq!(err.win32_code(), npipe::win32::ERROR_BAD_PATHNAME);
    /// assert!(err.to_string().contains("mailslot broadcast host"));
    ///
    /// let err = PipeName::parse("//./pipe/status").unwrap_err();
    /// assert!(err.to_string().contains("forward slashes"));
    /// ```
    pub fn parse(name: &str) -> Result<PipeName> {
        let (kind, host, path_start) = split(name).map_err(|reason| Error::BadPathname {
            name: name.to_owned(),
            reason,
        })?;
        let path = &name[path_start..];
        let mut key = String::with_capacity(kind.word().len() + 1 + path.len());
        key.push_str(kind.word());
        key.push('\\');
        key.extend(path.chars().map(fold_char));
        Ok(PipeName {
            name: name.to_owned(),
            kind,
            host,
            path_start,
            key,
        })
    }

    /// Builds the local name `\\.\pipe\PATH` or `\\.\mailslot\PATH`.
    ///
    /// # Errors
    ///
    /// As for [`PipeName::parse`] on the built name: [`Error::BadPathname`]
    /// when `path` is empty, holds a NUL character, or makes the name longer
    /// than [`MAX_NAME_LEN`] characters. The error's `name` is the built name.
    ///
    /// ```
    /// use npipe::name::{NameKind, PipeName};
    ///
    /// let name = PipeName::local(NameKind::Mailslot, r"jobs\done")?;
    /// assert_eq!(name.as_str(), r"\\.\mailslot\jobs\done");
    /// assert!(PipeName::local(NameKind::Pipe, "").is_err());
    /// # Ok::<(), npipe::Error>(())
    /// ```
    pub fn local(kind: NameKind, path: &str) -> Result<PipeName> {
        PipeName::parse(&format!(r"\\.\{}\{path}", kind.word()))
    }

    /// Whether this is a pipe or a mailslot name.
    pub fn kind(&self) -> NameKind {
        self.kind
    }

    /// The host part: [`Host::Local`] for `.`, [`Host::Everywhere`] for `*`,
    /// otherwise the server name as written.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Whether the host is `.`, this computer.
    pub fn is_local(&self) -> bool {
        matches!(self.host, Host::Local)
    }

    /// The part after `\pipe\` or `\mailslot\`, exactly as given.
    pub fn path(&self) -> &str {
        &self.name[self.path_start..]
    }

    /// The whole name as given.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The case-folded identity of the name without its host: `pipe\` or
    /// `mailslot\` followed by the folded path, such as `pipe\BUILD`.
    ///
    /// Two names with the same key and host are the same object.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl PartialEq for PipeName {
    fn eq(&self, other: &PipeName) -> bool {
        self.kind == other.kind && self.host == other.host && self.key == other.key
    }
}

impl Eq for PipeName {}

impl Hash for PipeName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.kind.hash(state);
        self.host.hash(state);
        self.key.hash(state);
    }
}

impl fmt::Display for PipeName {
    /// Prints the whole name as given.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl FromStr for PipeName {
    type Err = Error;

    fn from_str(name: &str) -> Result<PipeName> {
        PipeName::parse(name)
    }
}

impl TryFrom<&str> for PipeName {
    type Error = Error;

    fn try_from(name: &str) -> Result<PipeName> {
        PipeName::parse(name)
    }
}

/// Checks `name` against the rules in the module docs: its kind, its host
/// and the byte offset of its path, or the reason it is not valid.
fn split(name: &str) -> std::result::Result<(NameKind, Host, usize), String> {
    let len = name.chars().count();
    if len > MAX_NAME_LEN {
        return Err(format!(
            "name is {len} characters long; at most {MAX_NAME_LEN} are allowed"
        ));
    }
    if name.is_empty() {
        return Err(format!("name is empty; {EXPECTED}"));
    }
    let Some(rest) = name.strip_prefix(r"\\") else {
        let slashes = name.starts_with(['/', '\\']) && name[1..].starts_with(['/', '\\']);
        return Err(if slashes { FORWARD_SLASHES } else { EXPECTED }.into());
    };

    let (host, after_host) = match rest.split_once('\\') {
        Some((host, after)) => (host, Some(after)),
        None => (rest, None),
    };
    if host.contains('/') {
        return Err(FORWARD_SLASHES.into());
    }
    if host.is_empty() {
        return Err(r"host name is empty; use . for this computer, as in \\.\pipe\NAME".into());
    }
    if host.contains('\0') {
        return Err("host name contains a NUL character".into());
    }
    if host.contains(char::is_whitespace) {
        return Err("host name contains whitespace".into());
    }
    let Some(after_host) = after_host else {
        return Err(EXPECTED.into());
    };

    let (word, path) = after_host.split_once('\\').unwrap_or((after_host, ""));
    if word.contains('/') {
        return Err(FORWARD_SLASHES.into());
    }
    let kind = if folded_eq(word, "PIPE") {
        NameKind::Pipe
    } else if folded_eq(word, "MAILSLOT") {
        NameKind::Mailslot
    } else if word.is_empty() {
        return Err(EXPECTED.into());
    } else {
        return Err(format!("{word:?} is neither pipe nor mailslot; {EXPECTED}"));
    };

    let host = match host {
        "." => Host::Local,
        "*" if kind == NameKind::Mailslot => Host::Everywhere,
        "*" => {
            return Err("* is a mailslot broadcast host; pipes need a computer name or .".into())
        }
        server => Host::Server(server.to_owned()),
    };
    if path.is_empty() {
        return Err(format!("{} name is empty", kind.word()));
    }
    if path.contains('\0') {
        return Err(format!("{} name contains a NUL character", kind.word()));
    }
    Ok((kind, host, name.len() - path.len()))
}

const EXPECTED: &str = r"expected \\.\pipe\NAME or \\.\mailslot\NAME";

const FORWARD_SLASHES: &str =
    r"forward slashes do not separate the parts of a name; use backslashes, as in \\.\pipe\NAME";

/// Folds one character the way Windows' upcase table does: to its upper
/// case when that is a single character, otherwise unchanged.
pub(crate) fn fold_char(c: char) -> char {
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Whether `s` folds to `folded`.
fn folded_eq(s: &str, folded: &str) -> bool {
    s.chars().map(fold_char).eq(folded.chars())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::hash_map::DefaultHasher;

    fn reason(name: &str) -> String {
        match PipeName::parse(name) {
            Err(Error::BadPathname { name: n, reason }) => {
                assert_eq!(n, name, "the error names the input");
                reason
            }
            other => panic!("{name:?}: expected BadPathname, got {other:?}"),
        }
    }

    fn hash_of<T: Hash>(value: &T) -> u64 {
        let mut hasher = DefaultHasher::new();
        value.hash(&mut hasher);
        hasher.finish()
    }

    fn server(name: &str) -> Host {
        Host::Server(name.to_owned())
    }

    #[test]
    fn valid_names_parse_into_their_parts() {
        use NameKind::{Mailslot, Pipe};
        #[rustfmt::skip]
        let rows: Vec<(&str, NameKind, Host, &str, &str)> = vec![
            (r"\\.\pipe\build",       Pipe,     Host::Local,      "build",     r"pipe\BUILD"),
            (r"\\.\PIPE\Build",       Pipe,     Host::Local,      "Build",     r"pipe\BUILD"),
            (r"\\.\PiPe\x",           Pipe,     Host::Local,      "x",         r"pipe\X"),
            (r"\\.\pipe\a\b\c",       Pipe,     Host::Local,      r"a\b\c",    r"pipe\A\B\C"),
            (r"\\.\pipe\dir\",        Pipe,     Host::Local,      r"dir\",     r"pipe\DIR\"),
            (r"\\.\pipe\\",           Pipe,     Host::Local,      r"\",        r"pipe\\"),
            (r"\\.\pipe\\lead",       Pipe,     Host::Local,      r"\lead",    r"pipe\\LEAD"),
            (r"\\.\pipe\a/b",         Pipe,     Host::Local,      "a/b",       r"pipe\A/B"),
            (r"\\.\pipe\x y",         Pipe,     Host::Local,      "x y",       r"pipe\X Y"),
            (r"\\.\pipe\{id}-1.*?",   Pipe,     Host::Local,      "{id}-1.*?", r"pipe\{ID}-1.*?"),
            (r"\\.\pipe\žluť",        Pipe,     Host::Local,      "žluť",      r"pipe\ŽLUŤ"),
            (r"\\.\pipe\日本",        Pipe,     Host::Local,      "日本",      r"pipe\日本"),
            (r"\\srv\pipe\x",         Pipe,     server("srv"),    "x",         r"pipe\X"),
            (r"\\SRV-01\pipe\x",      Pipe,     server("srv-01"), "x",         r"pipe\X"),
            (r"\\.\mailslot\jobs",    Mailslot, Host::Local,      "jobs",      r"mailslot\JOBS"),
            (r"\\.\MailSlot\a\b",     Mailslot, Host::Local,      r"a\b",      r"mailslot\A\B"),
            (r"\\*\mailslot\x",       Mailslot, Host::Everywhere, "x",         r"mailslot\X"),
            (r"\\corp\mailslot\x",    Mailslot, server("CORP"),   "x",         r"mailslot\X"),
        ];
        for (input, kind, host, path, key) in rows {
            let name = PipeName::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(name.kind(), kind, "{input}");
            assert_eq!(name.host(), &host, "{input}");
            let written = input[2..].split('\\').next().unwrap();
            assert_eq!(
                name.host().to_string(),
                written,
                "the host keeps its spelling"
            );
            assert_eq!(name.is_local(), host == Host::Local, "{input}");
            assert_eq!(name.path(), path, "{input}");
            assert_eq!(name.key(), key, "{input}");
            assert_eq!(name.as_str(), input);
            assert_eq!(name.to_string(), input);
            assert_eq!(input.parse::<PipeName>().unwrap(), name);
            assert_eq!(PipeName::try_from(input).unwrap(), name);
        }
    }

    #[test]
    fn invalid_names_say_what_is_wrong() {
        let long = format!(r"\\.\pipe\{}", "x".repeat(291));
        #[rustfmt::skip]
        let rows: Vec<(&str, &str)> = vec![
            ("", "name is empty"),
            ("build", r"expected \\.\pipe\NAME"),
            (r"\.\pipe\x", r"expected \\.\pipe\NAME"),
            (r"pipe\x", r"expected \\.\pipe\NAME"),
            (r"\\", "host name is empty"),
            (r"\\\pipe\x", "host name is empty"),
            (r"\\.", r"expected \\.\pipe\NAME"),
            (r"\\server", r"expected \\.\pipe\NAME"),
            (r"\\.\", r"expected \\.\pipe\NAME"),
            (r"\\.\\x", r"expected \\.\pipe\NAME"),
            (r"\\.\pipes\x", r#""pipes" is neither pipe nor mailslot"#),
            (r"\\.\files\x", r#""files" is neither pipe nor mailslot"#),
            (r"\\.\pipe", "pipe name is empty"),
            (r"\\.\pipe\", "pipe name is empty"),
            (r"\\.\mailslot", "mailslot name is empty"),
            (r"\\.\mailslot\", "mailslot name is empty"),
            ("//./pipe/x", "forward slashes"),
            (r"/\.\pipe\x", "forward slashes"),
            (r"\/.\pipe\x", "forward slashes"),
            (r"\\./pipe/x", "forward slashes"),
            (r"\\.\pipe/x", "forward slashes"),
            (
                r"\\*\pipe\x",
                "* is a mailslot broadcast host; pipes need a computer name or .",
            ),
            (r"\\my host\pipe\x", "host name contains whitespace"),
            ("\\\\a\tb\\pipe\\x", "host name contains whitespace"),
            ("\\\\a\0\\pipe\\x", "host name contains a NUL character"),
            ("\\\\.\\pipe\\a\0b", "pipe name contains a NUL character"),
            (
                "\\\\.\\mailslot\\\0",
                "mailslot name contains a NUL character",
            ),
            (
                &long,
                "name is 300 characters long; at most 256 are allowed",
            ),
        ];
        for (input, fragment) in rows {
            let reason = reason(input);
            assert!(
                reason.contains(fragment),
                "{input:?}: {reason:?} lacks {fragment:?}"
            );
            assert!(
                reason.starts_with(|c: char| !c.is_uppercase()),
                "{reason:?}"
            );
            let err = PipeName::parse(input).unwrap_err();
            assert_eq!(err.win32_code(), crate::win32::ERROR_BAD_PATHNAME);
        }
    }

    #[test]
    fn names_differing_in_case_are_equal_and_hash_alike() {
        let pairs = [
            (r"\\.\pipe\Build", r"\\.\PIPE\bUILD"),
            (r"\\SRV\pipe\x", r"\\srv\Pipe\X"),
            (r"\\*\mailslot\a\b", r"\\*\MAILSLOT\A\B"),
            (r"\\.\pipe\Ärger", r"\\.\pipe\ärger"),
        ];
        for (a, b) in pairs {
            let (a, b) = (PipeName::parse(a).unwrap(), PipeName::parse(b).unwrap());
            assert_eq!(a, b);
            assert_eq!(hash_of(&a), hash_of(&b), "{a} and {b}");
            assert_ne!(a.as_str(), b.as_str(), "each keeps its own spelling");
        }
        let distinct = [
            r"\\.\pipe\x",
            r"\\.\mailslot\x",
            r"\\srv\pipe\x",
            r"\\other\pipe\x",
            r"\\.\pipe\x\",
            r"\\.\pipe\y",
        ];
        for (i, a) in distinct.iter().enumerate() {
            for b in &distinct[i + 1..] {
                assert_ne!(PipeName::parse(a).unwrap(), PipeName::parse(b).unwrap());
            }
        }
        let set: std::collections::HashSet<PipeName> =
            [r"\\.\pipe\a", r"\\.\PIPE\A", r"\\.\pipe\b"]
                .iter()
                .map(|n| n.parse().unwrap())
                .collect();
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn whole_name_may_be_256_characters_not_257() {
        let prefix = r"\\.\pipe\";
        let ok = format!("{prefix}{}", "x".repeat(MAX_NAME_LEN - prefix.len()));
        assert_eq!(ok.chars().count(), 256);
        assert!(PipeName::parse(&ok).is_ok());
        let too_long = format!("{ok}x");
        assert_eq!(
            reason(&too_long),
            "name is 257 characters long; at most 256 are allowed"
        );
        // Characters, not bytes: 247 two-byte characters fit.
        let wide = format!("{prefix}{}", "é".repeat(MAX_NAME_LEN - prefix.len()));
        assert!(wide.len() > MAX_NAME_LEN);
        assert!(PipeName::parse(&wide).is_ok());
        assert!(PipeName::parse(&format!("{wide}é")).is_err());
        // `local` counts the prefix it adds.
        let path = "x".repeat(MAX_NAME_LEN - prefix.len());
        assert!(PipeName::local(NameKind::Pipe, &path).is_ok());
        assert!(PipeName::local(NameKind::Pipe, &format!("{path}x")).is_err());
    }

    #[test]
    fn unicode_folds_one_character_to_one() {
        let key = |path: &str| PipeName::local(NameKind::Pipe, path).unwrap().key()[5..].to_owned();
        assert_eq!(key("straße"), "STRAßE", "ß uppercases to SS, so it stays");
        assert_eq!(key("ǆ"), "Ǆ");
        assert_eq!(key("ǅ"), "Ǆ", "titlecase folds to upper case");
        assert_eq!(key("σς"), "ΣΣ");
        assert_eq!(key("ﬁ"), "ﬁ", "the ligature uppercases to two letters");
        assert_eq!(key("ı"), "I");
        assert_eq!(key("日本"), "日本");
        let a = PipeName::parse(r"\\.\pipe\ΣΊΣΥΦΟΣ").unwrap();
        let b = PipeName::parse(r"\\.\pipe\σίσυφος").unwrap();
        assert_eq!(a, b);
        assert_ne!(
            PipeName::parse(r"\\.\pipe\strasse").unwrap(),
            PipeName::parse(r"\\.\pipe\straße").unwrap()
        );
    }

    #[test]
    fn local_builds_the_dot_form() {
        let pipe = PipeName::local(NameKind::Pipe, r"a\b").unwrap();
        assert_eq!(pipe.as_str(), r"\\.\pipe\a\b");
        assert_eq!(pipe.path(), r"a\b");
        assert!(pipe.is_local());
        let slot = PipeName::local(NameKind::Mailslot, "m").unwrap();
        assert_eq!(slot.as_str(), r"\\.\mailslot\m");
        assert_eq!(slot.kind(), NameKind::Mailslot);
        assert!(PipeName::local(NameKind::Pipe, "a\0").is_err());
    }

    /// Characters that steer the parser into each of its branches.
    fn tricky_char() -> impl Strategy<Value = char> {
        let special = prop::sample::select(vec!['\\', '\\', '/', '\0', '.', '*', ' ', 'ß']);
        prop_oneof![any::<char>(), special]
    }

    fn tricky_string(max: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(tricky_char(), 0..max).prop_map(String::from_iter)
    }

    /// Pieces that build names close to valid ones.
    fn near_name() -> impl Strategy<Value = String> {
        let words = [r"\\", r"\", "/", ".", "*", "pipe", "MailSlot", "\0", " "];
        let word = prop::sample::select(words.to_vec()).prop_map(str::to_owned);
        prop::collection::vec(prop_oneof![word, tricky_string(4)], 0..8).prop_map(|v| v.concat())
    }

    fn check_any(input: &str) -> std::result::Result<(), TestCaseError> {
        match PipeName::parse(input) {
            Ok(name) => {
                prop_assert_eq!(name.as_str(), input);
                prop_assert!(input.chars().count() <= MAX_NAME_LEN);
                prop_assert!(!name.path().is_empty());
                prop_assert!(!name.path().contains('\0'));
                prop_assert!(input.ends_with(name.path()));
                let again = PipeName::parse(&name.to_string()).unwrap();
                prop_assert_eq!(&again, &name);
                let swapped: String = input
                    .chars()
                    .map(|c| match c {
                        'a'..='z' => c.to_ascii_uppercase(),
                        'A'..='Z' => c.to_ascii_lowercase(),
                        _ => c,
                    })
                    .collect();
                let swapped = PipeName::parse(&swapped).unwrap();
                prop_assert_eq!(hash_of(&swapped), hash_of(&name));
                prop_assert_eq!(swapped, name);
            }
            Err(Error::BadPathname { name, reason }) => {
                prop_assert_eq!(name, input);
                prop_assert!(!reason.is_empty());
                prop_assert!(reason.starts_with(|c: char| !c.is_uppercase()));
            }
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn any_local_pipe_path_parses_or_fails_for_a_documented_reason(s in tricky_string(300)) {
            let input = format!(r"\\.\pipe\{s}");
            match PipeName::parse(&input) {
                Ok(name) => {
                    prop_assert_eq!(name.path(), s.as_str());
                    prop_assert_eq!(name.kind(), NameKind::Pipe);
                    prop_assert!(name.is_local());
                }
                Err(Error::BadPathname { reason, .. }) => {
                    let len = input.chars().count();
                    let expected = if len > MAX_NAME_LEN {
                        format!("name is {len} characters long; at most 256 are allowed")
                    } else if s.is_empty() {
                        "pipe name is empty".to_owned()
                    } else {
                        prop_assert!(s.contains('\0'));
                        "pipe name contains a NUL character".to_owned()
                    };
                    prop_assert_eq!(reason, expected);
                }
                Err(other) => prop_assert!(false, "unexpected error {other:?}"),
            }
        }

        #[test]
        fn arbitrary_strings_never_panic(s in any::<String>()) {
            check_any(&s)?;
        }

        #[test]
        fn near_names_never_panic(s in near_name()) {
            check_any(&s)?;
            check_any(&format!(r"\\{s}"))?;
        }
    }
}
