//! The configuration: a TOML file (`--config`) with command-line
//! overrides. Every error names the file and the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The port npiped listens on by default.
pub const DEFAULT_PORT: u16 = npipe::net::DEFAULT_PORT;

/// The principal of the `--token-file` token when `--token-name` is not
/// given.
pub const DEFAULT_TOKEN_NAME: &str = "token";

/// A configuration error, naming where it is.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct ConfigError {
    /// The file (or "command line").
    pub source_name: String,
    /// What is wrong, naming the key.
    pub message: String,
}

/// The settings npiped runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address and port to listen on. Default `0.0.0.0:4445`.
    pub listen: SocketAddr,
    /// The pipe namespace root (`NPIPE_ROOT` or the system default when unset).
    pub root: Option<PathBuf>,
    /// The server's certificate chain (PEM).
    pub cert: PathBuf,
    /// The server's private key (PEM).
    pub key: PathBuf,
    /// CA whose client certificates are accepted.
    pub client_ca: Option<PathBuf>,
    /// Client certificates accepted by SHA-256 fingerprint, with the
    /// principal name each stands for.
    pub pinned: Vec<Pin>,
    /// Shared tokens, with the principal name each stands for.
    pub tokens: Vec<Token>,
    /// Limits.
    pub limits: Limits,
    /// Log level: error, warn, info, debug or trace.
    pub log_level: String,
}

/// A pinned client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// SHA-256 of the certificate's DER bytes.
    pub sha256: [u8; 32],
    /// The principal it stands for.
    pub name: String,
}

/// A shared token.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// The principal it stands for.
    pub name: String,
    /// The secret.
    pub secret: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token({:?}, <hidden>)", self.name)
    }
}

/// Resource limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; more are closed at once.
    pub max_connections: usize,
    /// Opens and waits a client address may make per second, on average.
    pub opens_per_second: u32,
    /// Opens and waits a client address may make in a burst.
    pub open_burst: u32,
    /// The largest frame payload accepted, in bytes.
    pub max_frame: u32,
    /// Data bytes a client may send ahead of the server's reader.
    pub window: u32,
    /// A connection that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// TLS handshake, hello and request must arrive within this.
    pub handshake_timeout: Duration,
    /// The longest a remote WaitNamedPipe (or open with wait) may wait.
    pub max_wait: Duration,
    /// After SIGTERM, open connections may go on this long.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 1024,
            opens_per_second: 50,
            open_burst: 100,
            max_frame: 1 << 20,
            window: 1 << 20,
            idle_timeout: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(10),
            max_wait: Duration::from_secs(300),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<String>,
    root: Option<PathBuf>,
    #[serde(default)]
    tls: FileTls,
    #[serde(default)]
    auth: FileAuth,
    #[serde(default)]
    limits: FileLimits,
    #[serde(default)]
    log: FileLog,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTls {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAuth {
    client_ca: Option<PathBuf>,
    #[serde(default)]
    pinned: Vec<FilePin>,
    #[serde(default)]
    tokens: Vec<FileToken>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePin {
    sha256: String,
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToken {
    name: String,
    token: Option<String>,
    file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    max_connections: Option<usize>,
    opens_per_second: Option<u32>,
    open_burst: Option<u32>,
    max_frame: Option<u32>,
    window: Option<u32>,
    idle_timeout_secs: Option<f64>,
    handshake_timeout_secs: Option<f64>,
    max_wait_secs: Option<f64>,
    shutdown_grace_secs: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLog {
    level: Option<String>,
}

/// Settings given on the command line, which win over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`
    pub listen: Option<String>,
    /// `--root`
    pub root: Option<PathBuf>,
    /// `--cert`
    pub cert: Option<PathBuf>,
    /// `--key`
    pub key: Option<PathBuf>,
    /// `--client-ca`
    pub client_ca: Option<PathBuf>,
    /// `--token-file`
    pub token_file: Option<PathBuf>,
    /// `--token-name`: the principal of the `--token-file` token
    /// ([`DEFAULT_TOKEN_NAME`] when not given).
    pub token_name: Option<String>,
    /// `--max-connections`
    pub max_connections: Option<usize>,
    /// `--idle-timeout` in seconds
    pub idle_timeout_secs: Option<f64>,
    /// `--shutdown-grace` in seconds
    pub shutdown_grace_secs: Option<f64>,
    /// `--log-level`
    pub log_level: Option<String>,
}

impl Config {
    /// Reads `file` (if given), applies `overrides` and checks the result.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file and key at fault.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let (parsed, name, dir) = match file {
            Some(path) => {
                let name = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
                    source_name: name.clone(),
                    message: e.to_string(),
                })?;
                let parsed: File = toml::from_str(&text).map_err(|e| ConfigError {
                    source_name: name.clone(),
                    message: e.to_string().trim_end().replace('\n', " "),
                })?;
                let dir = path.parent().unwrap_or(Path::new(".")).to_owned();
                (parsed, name, dir)
            }
            None => (
                File::default(),
                "command line".to_owned(),
                PathBuf::from("."),
            ),
        };
        let err = |key: &str, message: String| ConfigError {
            source_name: name.clone(),
            message: format!("key `{key}`: {message}"),
        };
        let rel = |p: PathBuf| if p.is_absolute() { p } else { dir.join(p) };

        let listen_text = overrides
            .listen
            .clone()
            .or(parsed.listen)
            .unwrap_or_else(|| format!("0.0.0.0:{DEFAULT_PORT}"));
        let listen = parse_listen(&listen_text).map_err(|m| err("listen", m))?;
        let cert = overrides
            .cert
            .clone()
            .or_else(|| parsed.tls.cert.map(rel))
            .ok_or_else(|| err("tls.cert", "missing: the server certificate (PEM)".into()))?;
        let key = overrides
            .key
            .clone()
            .or_else(|| parsed.tls.key.map(rel))
            .ok_or_else(|| err("tls.key", "missing: the server's private key (PEM)".into()))?;
        let client_ca = overrides
            .client_ca
            .clone()
            .or_else(|| parsed.auth.client_ca.map(rel));
        let mut pinned = Vec::new();
        for (i, pin) in parsed.auth.pinned.into_iter().enumerate() {
            let sha256 = parse_fingerprint(&pin.sha256)
                .map_err(|m| err(&format!("auth.pinned[{i}].sha256"), m))?;
            let name = pin
                .name
                .unwrap_or_else(|| format!("sha256:{}", hex(&sha256)));
            check_principal_name(&name).map_err(|m| err(&format!("auth.pinned[{i}].name"), m))?;
            pinned.push(Pin { sha256, name });
        }
        let mut tokens = Vec::new();
        for (i, t) in parsed.auth.tokens.into_iter().enumerate() {
            let key = format!("auth.tokens[{i}]");
            let secret = match (t.token, t.file) {
                (Some(secret), None) => secret,
                (None, Some(file)) => read_secret(&rel(file)).map_err(|m| err(&key, m))?,
                _ => return Err(err(&key, "give exactly one of `token` and `file`".into())),
            };
            tokens.push(check_token(t.name, secret).map_err(|m| err(&key, m))?);
        }
        let cli_err = |option: &str, message: String| ConfigError {
            source_name: "command line".into(),
            message: format!("{option}: {message}"),
        };
        if let Some(file) = &overrides.token_file {
            let name = overrides
                .token_name
                .clone()
                .unwrap_or_else(|| DEFAULT_TOKEN_NAME.into());
            check_principal_name(&name).map_err(|m| cli_err("--token-name", m))?;
            let secret = read_secret(file).map_err(|m| cli_err("--token-file", m))?;
            tokens.push(check_token(name, secret).map_err(|m| cli_err("--token-file", m))?);
        } else if overrides.token_name.is_some() {
            // Silently ignoring it would leave the operator thinking the
            // name applies to some other token.
            return Err(cli_err(
                "--token-name",
                "needs --token-file (the token it names)".into(),
            ));
        }
        if client_ca.is_none() && pinned.is_empty() && tokens.is_empty() {
            return Err(err(
                "auth",
                "no authentication configured: set auth.client_ca, auth.pinned or auth.tokens \
                 (npiped never serves unauthenticated clients)"
                    .into(),
            ));
        }

        let l = parsed.limits;
        let d = Limits::default();
        let secs = |key: &str,
                    v: Option<f64>,
                    default: Duration|
         -> Result<Duration, ConfigError> {
            match v {
                None => Ok(default),
                Some(s) if s.is_finite() && s > 0.0 && s < 1e7 => Ok(Duration::from_secs_f64(s)),
                Some(s) => Err(err(key, format!("{s} is not a positive number of seconds"))),
            }
        };
        let limits = Limits {
            max_connections: overrides
                .max_connections
                .or(l.max_connections)
                .unwrap_or(d.max_connections),
            opens_per_second: l.opens_per_second.unwrap_or(d.opens_per_second),
            open_burst: l.open_burst.unwrap_or(d.open_burst),
            max_frame: l.max_frame.unwrap_or(d.max_frame),
            window: l.window.unwrap_or(d.window),
            idle_timeout: secs(
                "limits.idle_timeout_secs",
                overrides.idle_timeout_secs.or(l.idle_timeout_secs),
                d.idle_timeout,
            )?,
            handshake_timeout: secs(
                "limits.handshake_timeout_secs",
                l.handshake_timeout_secs,
                d.handshake_timeout,
            )?,
            max_wait: secs("limits.max_wait_secs", l.max_wait_secs, d.max_wait)?,
            shutdown_grace: secs(
                "limits.shutdown_grace_secs",
                overrides.shutdown_grace_secs.or(l.shutdown_grace_secs),
                d.shutdown_grace,
            )?,
        };
        if limits.max_connections == 0 {
            return Err(err("limits.max_connections", "must be at least 1".into()));
        }
        if limits.opens_per_second == 0 || limits.open_burst == 0 {
            return Err(err(
                "limits.opens_per_second",
                "opens_per_second and open_burst must be at least 1".into(),
            ));
        }
        let frame_range =
            npipe::proto::remote::MIN_FRAME_LIMIT..=npipe::proto::remote::MAX_FRAME_LIMIT;
        if !frame_range.contains(&limits.max_frame) {
            return Err(err(
                "limits.max_frame",
                format!(
                    "must be {} to {} bytes",
                    frame_range.start(),
                    frame_range.end()
                ),
            ));
        }
        if limits.window < npipe::proto::remote::MIN_FRAME_LIMIT {
            return Err(err("limits.window", "must be at least 4096 bytes".into()));
        }
        if limits.idle_timeout < Duration::from_secs(1) {
            return Err(err(
                "limits.idle_timeout_secs",
                "must be at least 1 second".into(),
            ));
        }
        let log_level = overrides
            .log_level
            .clone()
            .or(parsed.log.level)
            .unwrap_or_else(|| "info".into());
        if !["error", "warn", "info", "debug", "trace"].contains(&log_level.as_str()) {
            return Err(err(
                "log.level",
                format!("{log_level:?} is not error, warn, info, debug or trace"),
            ));
        }
        Ok(Config {
            listen,
            root: overrides.root.clone().or_else(|| parsed.root.map(rel)),
            cert,
            key,
            client_ca,
            pinned,
            tokens,
            limits,
            log_level,
        })
    }
}

fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, DEFAULT_PORT));
    }
    Err(format!(
        "{text:?} is not an address and port such as 0.0.0.0:4445 or [::]:4445"
    ))
}

/// Parses a SHA-256 fingerprint: 64 hex digits, colons allowed, any case,
/// an optional `sha256:` prefix.
pub fn parse_fingerprint(text: &str) -> Result<[u8; 32], String> {
    let digits: String = text
        .trim()
        .trim_start_matches("sha256:")
        .chars()
        .filter(|c| *c != ':')
        .collect();
    let bad = || format!("{text:?} is not a SHA-256 fingerprint (64 hex digits)");
    if digits.len() != 64 {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn read_secret(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn check_token(name: String, secret: String) -> Result<Token, String> {
    if secret.len() < 16 {
        return Err("a token must be at least 16 characters".into());
    }
    if secret.len() > npipe::proto::remote::frame::MAX_TOKEN_LEN {
        return Err("a token must be at most 1024 bytes".into());
    }
    check_principal_name(&name)?;
    Ok(Token { name, secret })
}

/// A token's or a pin's name is the principal pipe servers see and
/// compare with their `allow_remote_principal` list, so it must reach them
/// whole: the remote claim cuts longer fields, and a pipe server refuses a
/// claim with a NUL. Other control characters would garble the logs.
fn check_principal_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("an empty name (the principal servers see)".into());
    }
    if name.chars().any(char::is_control) {
        return Err(format!("the name {name:?} has a control character"));
    }
    let max = npipe::proto::MAX_REMOTE_CLAIM_FIELD_LEN;
    if name.len() > max {
        return Err(format!("a name must be at most {max} bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "npiped-config-{}-{}",
            std::process::id(),
            text.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("npiped.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let cases = [
            ("listen = \"nowhere\"\n[tls]\ncert=\"c\"\nkey=\"k\"\n[auth]\nclient_ca=\"ca\"\n", "listen"),
            ("[tls]\ncert=\"c\"\nkey=\"k\"\n", "auth"),
            ("[tls]\ncert=\"c\"\nkey=\"k\"\n[auth]\nclient_ca=\"ca\"\n[limits]\nmax_frame = 3\n", "limits.max_frame"),
            ("[tls]\ncert=\"c\"\nkey=\"k\"\n[auth]\nclient_ca=\"ca\"\n[limits]\nidle_timeout_secs = -1\n", "limits.idle_timeout_secs"),
            ("[tls]\ncert=\"c\"\nkey=\"k\"\n[auth]\npinned=[{sha256=\"xyz\"}]\n", "auth.pinned[0].sha256"),
            ("[tls]\ncert=\"c\"\nkey=\"k\"\n[auth]\npinned=[{sha256=\"0000000000000000000000000000000000000000000000000000000000000000\", name=\"bad\\nname\"}]\n", "auth.pinned[0].name"),
            ("[tls]\ncert=\"c\"\nkey=\"k\"\n[auth]\ntokens=[{name=\"a\", token=\"short\"}]\n", "auth.tokens[0]"),
            ("[tls]\ncert=\"c\"\nkey=\"k\"\n[auth]\ntokens=[{name=\"a\\u0000b\", token=\"a-test-token-0123456789\"}]\n", "auth.tokens[0]"),
            ("[tls]\ncert=\"c\"\n[auth]\nclient_ca=\"ca\"\n", "tls.key"),
            ("[tls]\ncert=\"c\"\nkey=\"k\"\ncolour=1\n", "colour"),
        ];
        for (text, key) in cases {
            let (dir, path) = write(text);
            let e = Config::load(Some(&path), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(e.contains("npiped.toml"), "{e}");
            assert!(e.contains(key), "{e} lacks {key}");
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    #[test]
    fn the_command_line_wins_and_paths_are_relative_to_the_file() {
        let (dir, path) = write("listen = \"127.0.0.1:9\"\n[tls]\ncert=\"c.pem\"\nkey=\"k.pem\"\n[auth]\nclient_ca=\"ca.pem\"\n");
        let o = Overrides {
            listen: Some("127.0.0.1:4446".into()),
            ..Overrides::default()
        };
        let c = Config::load(Some(&path), &o).unwrap();
        assert_eq!(c.listen.port(), 4446);
        assert_eq!(c.cert, dir.join("c.pem"));
        assert_eq!(c.limits, Limits::default());
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Overrides with a certificate, a key and a `--token-file` holding a
    /// good secret, in `dir`.
    fn token_file_overrides(dir: &Path) -> Overrides {
        std::fs::create_dir_all(dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "a-test-token-0123456789\n").unwrap();
        Overrides {
            cert: Some("c.pem".into()),
            key: Some("k.pem".into()),
            token_file: Some(file),
            ..Overrides::default()
        }
    }

    fn token_name_dir(case: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "npiped-config-token-name-{}-{case}",
            std::process::id()
        ))
    }

    #[test]
    fn the_token_file_stands_for_token_unless_token_name_says() {
        let dir = token_name_dir("names");
        let mut o = token_file_overrides(&dir);
        let c = Config::load(None, &o).unwrap();
        let names: Vec<_> = c.tokens.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["token"]);
        assert_eq!(c.tokens[0].secret, "a-test-token-0123456789");

        o.token_name = Some("alice".into());
        let c = Config::load(None, &o).unwrap();
        let names: Vec<_> = c.tokens.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["alice"]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_token_name_that_would_not_reach_pipe_servers_whole_is_refused() {
        let dir = token_name_dir("bad");
        let mut o = token_file_overrides(&dir);
        let too_long = "a".repeat(npipe::proto::MAX_REMOTE_CLAIM_FIELD_LEN + 1);
        for bad in ["", "al\0ice", "alice\n", too_long.as_str()] {
            o.token_name = Some(bad.into());
            let e = Config::load(None, &o).unwrap_err().to_string();
            assert!(e.starts_with("command line: --token-name: "), "{e}");
        }
        // The longest name that fits is accepted.
        o.token_name = Some(too_long[1..].into());
        assert!(Config::load(None, &o).is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn token_name_without_token_file_is_refused() {
        let o = Overrides {
            cert: Some("c.pem".into()),
            key: Some("k.pem".into()),
            client_ca: Some("ca.pem".into()),
            token_name: Some("alice".into()),
            ..Overrides::default()
        };
        let e = Config::load(None, &o).unwrap_err().to_string();
        assert!(e.starts_with("command line: --token-name: "), "{e}");
        assert!(e.contains("--token-file"), "{e}");
    }

    #[test]
    fn fingerprints_parse_with_or_without_colons() {
        let hexed = "AB".repeat(32);
        assert_eq!(parse_fingerprint(&hexed).unwrap(), [0xab; 32]);
        let colons = vec!["ab"; 32].join(":");
        assert_eq!(
            parse_fingerprint(&format!("sha256:{colons}")).unwrap(),
            [0xab; 32]
        );
        assert!(parse_fingerprint("ab").is_err());
    }
}
