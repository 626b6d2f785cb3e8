//! The `meta` file of a mailslot: what its reader fixed for writers.

use crate::namespace::{AllowList, FieldWriter, Fields};

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
        FieldWriter::default()
            .text("name", &self.name)
            .text("key", &self.key)
            .field("pid", self.pid)
            .field("owner_uid", self.owner_uid)
            .field("max_message_size", self.max_message_size)
            .allow(&self.allow)
            .finish()
    }

    /// Parses the file's text; `None` if a field is missing or malformed.
    pub fn decode(text: &str) -> Option<MailslotMeta> {
        let fields = Fields::parse(text)?;
        Some(MailslotMeta {
            name: fields.text("name")?,
            key: fields.text("key")?,
            pid: fields.value("pid")?,
            owner_uid: fields.value("owner_uid")?,
            max_message_size: fields.value("max_message_size")?,
            allow: fields.allow()?,
        })
    }
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
