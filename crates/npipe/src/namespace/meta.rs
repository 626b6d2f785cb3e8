//! The `meta` file of a pipe: what the first instance fixed for all others.

use super::fields::{FieldWriter, Fields};
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
    /// Remote principals allowed in through `npiped`; empty: any
    /// authenticated one (when `reject_remote` is off).
    pub remote_principals: Vec<String>,
}

impl PipeMeta {
    /// The file's text: one `key=value` a line.
    pub fn encode(&self) -> String {
        FieldWriter::default()
            .text("name", &self.name)
            .text("key", &self.key)
            .field(
                "type",
                match self.pipe_mode {
                    PipeMode::Byte => "byte",
                    PipeMode::Message => "message",
                },
            )
            .field(
                "access",
                match self.access {
                    Access::Inbound => "inbound",
                    Access::Outbound => "outbound",
                    Access::Duplex => "duplex",
                },
            )
            .field("max_instances", self.max_instances)
            .field("in_buffer", self.in_buffer)
            .field("out_buffer", self.out_buffer)
            .field("default_timeout_ms", self.default_timeout_ms)
            .field("owner_uid", self.owner_uid)
            .field("reject_remote", self.reject_remote)
            .allow(&self.allow)
            .text("remote_principals", &self.remote_principals.join("\n"))
            .finish()
    }

    /// Parses the file's text; `None` if a required field is missing or
    /// malformed (a torn or foreign file).
    pub fn decode(text: &str) -> Option<PipeMeta> {
        let fields = Fields::parse(text)?;
        Some(PipeMeta {
            name: fields.text("name")?,
            key: fields.text("key")?,
            pipe_mode: match fields.raw("type")? {
                "byte" => PipeMode::Byte,
                "message" => PipeMode::Message,
                _ => return None,
            },
            access: match fields.raw("access")? {
                "inbound" => Access::Inbound,
                "outbound" => Access::Outbound,
                "duplex" => Access::Duplex,
                _ => return None,
            },
            max_instances: fields.value("max_instances")?,
            in_buffer: fields.value("in_buffer")?,
            out_buffer: fields.value("out_buffer")?,
            default_timeout_ms: fields.value("default_timeout_ms")?,
            owner_uid: fields.value("owner_uid")?,
            reject_remote: fields.value("reject_remote")?,
            allow: fields.allow()?,
            // Optional: meta files of earlier builds have no such line.
            remote_principals: fields
                .text("remote_principals")
                .map(|list| {
                    list.split('\n')
                        .filter(|p| !p.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
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
            remote_principals: vec!["alice".into(), "CN=bob, O=x".into()],
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
