//! `npipe list`: the pipes and mailslots of the namespace, as tables or as
//! JSON.

use std::io::Write;

use npipe::{Access, MailslotEntry, PipeEntry, PipeMode, PIPE_UNLIMITED_INSTANCES};
use serde::Serialize;

use crate::cmd::Outcome;
use crate::failure::{stdout_error, Failure, Op};
use crate::flags::high::ListPlan;

/// What `--json` prints: one object, an array for each kind of name.
#[derive(Debug, Serialize)]
struct Listing {
    pipes: Vec<PipeRow>,
    mailslots: Vec<MailslotRow>,
}

/// One pipe as `--json` prints it.
#[derive(Debug, Serialize)]
struct PipeRow {
    name: String,
    #[serde(rename = "type")]
    pipe_type: &'static str,
    access: &'static str,
    current_instances: u32,
    listening_instances: u32,
    max_instances: u32,
    owner_uid: u32,
    owner: Option<String>,
    server_pids: Vec<u32>,
}

/// One mailslot as `--json` prints it.
#[derive(Debug, Serialize)]
struct MailslotRow {
    name: String,
    /// 0: any size up to 64 KiB.
    max_message_size: usize,
    owner_uid: u32,
    owner: Option<String>,
    reader_pid: u32,
}

pub fn run(plan: ListPlan) -> Result<Outcome, Failure> {
    let root = plan.namespace.path().to_path_buf();
    let fail = |e| {
        Failure::npipe(
            format!("cannot list {}", root.display()),
            e,
            Op::List,
            "",
            Some(&root),
        )
    };
    let pipes = plan.namespace.pipes().map_err(fail)?;
    let mailslots = plan.namespace.mailslots().map_err(fail)?;
    let users = Users::load();
    let listing = Listing {
        pipes: pipes.into_iter().map(|p| pipe_row(p, &users)).collect(),
        mailslots: mailslots
            .into_iter()
            .map(|m| mailslot_row(m, &users))
            .collect(),
    };
    let text = if plan.json {
        let mut text = serde_json::to_string_pretty(&listing).expect("rows serialize");
        text.push('\n');
        text
    } else {
        tables(&listing)
    };
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(stdout_error)?;
    Ok(Outcome::Success)
}

fn pipe_row(p: PipeEntry, users: &Users) -> PipeRow {
    PipeRow {
        owner: users.name(p.owner_uid),
        pipe_type: match p.pipe_mode {
            PipeMode::Message => "message",
            _ => "byte",
        },
        access: match p.access {
            Access::Inbound => "inbound",
            Access::Outbound => "outbound",
            _ => "duplex",
        },
        name: p.name,
        current_instances: p.current_instances,
        listening_instances: p.listening_instances,
        max_instances: p.max_instances,
        owner_uid: p.owner_uid,
        server_pids: p.server_pids,
    }
}

fn mailslot_row(m: MailslotEntry, users: &Users) -> MailslotRow {
    MailslotRow {
        owner: users.name(m.owner_uid),
        name: m.name,
        max_message_size: m.max_message_size,
        owner_uid: m.owner_uid,
        reader_pid: m.reader_pid,
    }
}

/// The pipes' table, then the mailslots', a blank line between; a kind
/// with no names has no table.
fn tables(listing: &Listing) -> String {
    let owner = |name: &Option<String>, uid: u32| name.clone().unwrap_or_else(|| uid.to_string());
    let pipes = listing.pipes.iter().map(|r| {
        let max = if r.max_instances == PIPE_UNLIMITED_INSTANCES {
            "unlimited".to_string()
        } else {
            r.max_instances.to_string()
        };
        let pids: Vec<String> = r.server_pids.iter().map(u32::to_string).collect();
        vec![
            r.name.clone(),
            r.pipe_type.into(),
            r.access.into(),
            format!("{}/{max}", r.current_instances),
            r.listening_instances.to_string(),
            owner(&r.owner, r.owner_uid),
            pids.join(","),
        ]
    });
    let mailslots = listing.mailslots.iter().map(|r| {
        vec![
            r.name.clone(),
            match r.max_message_size {
                0 => "any".to_string(),
                n => n.to_string(),
            },
            owner(&r.owner, r.owner_uid),
            r.reader_pid.to_string(),
        ]
    });
    let sections = [
        table(
            &[
                "NAME",
                "TYPE",
                "ACCESS",
                "INSTANCES",
                "LISTENING",
                "OWNER",
                "PIDS",
            ],
            pipes,
        ),
        table(&["MAILSLOT", "MAX SIZE", "OWNER", "READER PID"], mailslots),
    ];
    let sections: Vec<String> = sections.into_iter().filter(|t| !t.is_empty()).collect();
    sections.join("\n")
}

/// Aligned columns under `header`; empty when there are no rows.
fn table(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    lines.extend(rows);
    if lines.len() == 1 {
        return String::new();
    }
    let mut widths = vec![0usize; header.len()];
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in &lines {
        let mut text = String::new();
        for (i, (cell, w)) in line.iter().zip(&widths).enumerate() {
            if i + 1 == line.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

/// User names from /etc/passwd, for the OWNER column.
struct Users(Vec<(u32, String)>);

impl Users {
    fn load() -> Users {
        let text = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        Users(
            text.lines()
                .filter_map(|line| {
                    let mut fields = line.split(':');
                    let name = fields.next()?;
                    let uid = fields.nth(1)?.parse().ok()?;
                    Some((uid, name.to_string()))
                })
                .collect(),
        )
    }

    fn name(&self, uid: u32) -> Option<String> {
        self.0
            .iter()
            .find(|(u, _)| *u == uid)
            .map(|(_, n)| n.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipe(name: &str) -> PipeRow {
        PipeRow {
            name: name.into(),
            pipe_type: "byte",
            access: "duplex",
            current_instances: 1,
            listening_instances: 1,
            max_instances: 255,
            owner_uid: 1000,
            owner: None,
            server_pids: vec![42],
        }
    }

    fn mailslot(name: &str, max: usize) -> MailslotRow {
        MailslotRow {
            name: name.into(),
            max_message_size: max,
            owner_uid: 0,
            owner: Some("root".into()),
            reader_pid: 9,
        }
    }

    #[test]
    fn pipe_table_aligns_columns_and_spells_out_unlimited() {
        let listing = Listing {
            pipes: vec![
                pipe(r"\\.\pipe\a"),
                PipeRow {
                    name: r"\\.\pipe\longer".into(),
                    pipe_type: "message",
                    access: "inbound",
                    current_instances: 2,
                    listening_instances: 0,
                    max_instances: 4,
                    owner_uid: 0,
                    owner: Some("root".into()),
                    server_pids: vec![7, 8],
                },
            ],
            mailslots: vec![],
        };
        let text = tables(&listing);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("NAME             TYPE"), "{text}");
        assert!(lines[1].contains("1/unlimited"), "{text}");
        assert!(lines[1].contains("1000"), "{text}");
        assert!(
            lines[2].contains("2/4") && lines[2].ends_with("root   7,8"),
            "{text}"
        );
    }

    #[test]
    fn mailslots_get_their_own_table_after_a_blank_line() {
        let listing = Listing {
            pipes: vec![pipe(r"\\.\pipe\a")],
            mailslots: vec![
                mailslot(r"\\.\mailslot\inbox", 0),
                mailslot(r"\\.\mailslot\x", 424),
            ],
        };
        let text = tables(&listing);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "{text}");
        assert_eq!(lines[2], "", "{text}");
        assert!(
            lines[3].starts_with("MAILSLOT            MAX SIZE"),
            "{text}"
        );
        assert!(lines[4].ends_with("any       root   9"), "{text}");
        assert!(lines[5].contains(" 424 "), "{text}");
        // Mailslots alone: no pipe table, no blank line.
        let only = Listing {
            pipes: vec![],
            mailslots: listing.mailslots,
        };
        assert!(tables(&only).starts_with("MAILSLOT"), "{}", tables(&only));
        let empty = Listing {
            pipes: vec![],
            mailslots: vec![],
        };
        assert_eq!(tables(&empty), "");
    }
}
