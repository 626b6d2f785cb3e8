//! The `meta` file of a mailslot: what its reader fixed for writers.

use crate::namespace::AllowList;

/// The properties writers need before they send: who owns the mailslot,
/// who may write, and the largest message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MailslotMeta {
    /// The name as the reader spelled it.
    pub name: String,
    /// The case-folded key (detects hash collisions of directory names).
    pub key: String,
    /// The reader's process id.
    pub pid: u32,
    pub owner_uid: u32,
    /// 0: any size up to `MAX_LOCAL_MESSAGE`.
    pub max_message_size: usize,
    pub allow: AllowList,
}

impl MailslotMeta {
    /// The file's text: one `key=value` a line.
    pub fn encode(&self) -> String {
        let list = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        format!(
            "name={}\nkey={}\npid={}\nowner_uid={}\nmax_message_size={}\nallow_everyone={}\n\
             allow_uids={}\nallow_gids={}\n",
            escape(&self.name),
            escape(&self.key),
            self.pid,
            self.owner_uid,
            self.max_message_size,
            self.allow.everyone,
            list(&self.allow.uids),
            list(&self.allow.gids),
        )
    }

    /// Parses the file's text; `None` if a field is missing or malformed.
    pub fn decode(text: &str) -> Option<MailslotMeta> {
        let mut fields = std::collections::HashMap::new();
        for line in text.lines() {
            let (k, v) = line.split_once('=')?;
            fields.insert(k, v);
        }
        let get = |k: &str| fields.get(k).copied();
        let list = |k: &str| -> Option<Vec<u32>> {
            let v = get(k)?;
            if v.is_empty() {
                return Some(Vec::new());
            }
            v.split(',').map(|s| s.parse().ok()).collect()
        };
        Some(MailslotMeta {
            name: unescape(get("name")?)?,
            key: unescape(get("key")?)?,
            pid: get("pid")?.parse().ok()?,
            owner_uid: get("owner_uid")?.parse().ok()?,
            max_message_size: get("max_message_size")?.parse().ok()?,
            allow: AllowList {
                everyone: get("allow_everyone")?.parse().ok()?,
                uids: list("allow_uids")?,
                gids: list("allow_gids")?,
            },
        })
    }
}

/// Names may hold any character but NUL: `%`, newline and carriage return
/// are escaped so the file stays one field a line.
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
    fn meta_round_trips_and_torn_files_are_refused() {
        let meta = MailslotMeta {
            name: "\\\\.\\mailslot\\odd%\nname".into(),
            key: "mailslot\\ODD%\nNAME".into(),
            pid: 42,
            owner_uid: 1000,
            max_message_size: 424,
            allow: AllowList {
                everyone: false,
                uids: vec![7, 8],
                gids: vec![],
            },
        };
        let text = meta.encode();
        assert_eq!(MailslotMeta::decode(&text), Some(meta));
        assert_eq!(MailslotMeta::decode(&text[..text.len() / 2]), None);
        assert_eq!(MailslotMeta::decode("pid=x"), None);
    }
}
