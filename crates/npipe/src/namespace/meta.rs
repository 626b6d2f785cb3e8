//! The `meta` file of a pipe: what the first instance fixed for all others.

use crate::pipe::{Access, PipeMode};
use crate::sys::fs::Identity;

/// Who may connect to a pipe. The owner and root always may.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AllowList {
    pub everyone: bool,
    pub uids: Vec<u32>,
    pub gids: Vec<u32>,
}

impl AllowList {
    /// Whether a process of this identity may connect to a pipe owned by
    /// `owner`.
    pub fn permits(&self, owner: u32, uid: u32, gid: u32, groups: &[u32]) -> bool {
        uid == 0
            || uid == owner
            || self.everyone
            || self.uids.contains(&uid)
            || self.gids.contains(&gid)
            || groups.iter().any(|g| self.gids.contains(g))
    }

    /// Whether the calling process may connect.
    pub fn permits_identity(&self, owner: u32, id: &Identity) -> bool {
        self.permits(owner, id.uid, id.gid, &id.groups)
    }
}

/// The fixed properties of a named pipe, written by its first instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PipeMeta {
    /// The name as the first instance spelled it.
    pub name: String,
    /// The case-folded key (detects hash collisions of directory names).
    pub key: String,
    pub pipe_mode: PipeMode,
    pub access: Access,
    pub max_instances: u32,
    pub in_buffer: u32,
    pub out_buffer: u32,
    pub default_timeout_ms: u64,
    pub owner_uid: u32,
    pub reject_remote: bool,
    pub allow: AllowList,
}

impl PipeMeta {
    /// The file's text: one `key=value` a line.
    pub fn encode(&self) -> String {
        let list = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        format!(
            "name={}\nkey={}\ntype={}\naccess={}\nmax_instances={}\nin_buffer={}\nout_buffer={}\n\
             default_timeout_ms={}\nowner_uid={}\nreject_remote={}\nallow_everyone={}\n\
             allow_uids={}\nallow_gids={}\n",
            escape(&self.name),
            escape(&self.key),
            match self.pipe_mode {
                PipeMode::Byte => "byte",
                PipeMode::Message => "message",
            },
            match self.access {
                Access::Inbound => "inbound",
                Access::Outbound => "outbound",
                Access::Duplex => "duplex",
            },
            self.max_instances,
            self.in_buffer,
            self.out_buffer,
            self.default_timeout_ms,
            self.owner_uid,
            self.reject_remote,
            self.allow.everyone,
            list(&self.allow.uids),
            list(&self.allow.gids),
        )
    }

    /// Parses the file's text; `None` if a required field is missing or
    /// malformed (a torn or foreign file).
    pub fn decode(text: &str) -> Option<PipeMeta> {
        let mut fields = std::collections::HashMap::new();
        for line in text.lines() {
            let (k, v) = line.split_once('=')?;
            fields.insert(k, v);
        }
        let get = |k: &str| fields.get(k).copied();
        let num = |k: &str| get(k)?.parse::<u64>().ok();
        let list = |k: &str| -> Option<Vec<u32>> {
            let v = get(k)?;
            if v.is_empty() {
                return Some(Vec::new());
            }
            v.split(',').map(|s| s.parse().ok()).collect()
        };
        Some(PipeMeta {
            name: unescape(get("name")?)?,
            key: unescape(get("key")?)?,
            pipe_mode: match get("type")? {
                "byte" => PipeMode::Byte,
                "message" => PipeMode::Message,
                _ => return None,
            },
            access: match get("access")? {
                "inbound" => Access::Inbound,
                "outbound" => Access::Outbound,
                "duplex" => Access::Duplex,
                _ => return None,
            },
            max_instances: u32::try_from(num("max_instances")?).ok()?,
            in_buffer: u32::try_from(num("in_buffer")?).ok()?,
            out_buffer: u32::try_from(num("out_buffer")?).ok()?,
            default_timeout_ms: num("default_timeout_ms")?,
            owner_uid: u32::try_from(num("owner_uid")?).ok()?,
            reject_remote: get("reject_remote")?.parse().ok()?,
            allow: AllowList {
                everyone: get("allow_everyone")?.parse().ok()?,
                uids: list("allow_uids")?,
                gids: list("allow_gids")?,
            },
        })
    }
}

/// Names may hold any character but NUL; `%`, newline and carriage return
/// are percent-escaped so the file stays one field a line.
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
        let code = rest.get(i + 1..i + 3)?;
        out.push(match code {
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

    fn sample() -> PipeMeta {
        PipeMeta {
            name: "\\\\.\\pipe\\odd%name\nwith=lines".into(),
            key: "pipe\\ODD%NAME\nWITH=LINES".into(),
            pipe_mode: PipeMode::Message,
            access: Access::Inbound,
            max_instances: 4,
            in_buffer: 1024,
            out_buffer: 0,
            default_timeout_ms: 50,
            owner_uid: 1000,
            reject_remote: true,
            allow: AllowList {
                everyone: false,
                uids: vec![1, 2],
                gids: vec![],
            },
        }
    }

    #[test]
    fn meta_round_trips_through_text() {
        let meta = sample();
        assert_eq!(PipeMeta::decode(&meta.encode()), Some(meta));
    }

    #[test]
    fn torn_or_foreign_files_are_refused() {
        let text = sample().encode();
        assert_eq!(PipeMeta::decode(&text[..text.len() / 2]), None);
        assert_eq!(PipeMeta::decode("hello"), None);
        assert_eq!(
            PipeMeta::decode(&text.replace("type=message", "type=stream")),
            None
        );
    }

    #[test]
    fn allow_list_admits_owner_root_and_listed_principals() {
        let allow = AllowList {
            everyone: false,
            uids: vec![7],
            gids: vec![50],
        };
        assert!(allow.permits(1000, 1000, 1000, &[]));
        assert!(allow.permits(1000, 0, 0, &[]));
        assert!(allow.permits(1000, 7, 7, &[]));
        assert!(allow.permits(1000, 8, 50, &[]));
        assert!(allow.permits(1000, 8, 8, &[3, 50]));
        assert!(!allow.permits(1000, 8, 8, &[3]));
        let everyone = AllowList {
            everyone: true,
            ..AllowList::default()
        };
        assert!(everyone.permits(1000, 8, 8, &[]));
    }
}
