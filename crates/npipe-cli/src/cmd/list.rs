//! `npipe list`: the pipes of the namespace, as a table or as JSON.

use std::io::Write;

use npipe::{Access, PipeEntry, PipeMode, PIPE_UNLIMITED_INSTANCES};
use serde::Serialize;

use crate::cmd::Outcome;
use crate::failure::{stdout_error, Failure, Op};
use crate::flags::high::ListPlan;

/// One pipe as `--json` prints it.
#[derive(Debug, Serialize)]
struct Row {
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

pub fn run(plan: ListPlan) -> Result<Outcome, Failure> {
    let root = plan.namespace.path().to_path_buf();
    let pipes = plan.namespace.pipes().map_err(|e| {
        Failure::npipe(
            format!("cannot list {}", root.display()),
            e,
            Op::List,
            "",
            Some(&root),
        )
    })?;
    let users = Users::load();
    let rows: Vec<Row> = pipes.into_iter().map(|p| row(p, &users)).collect();
    let text = if plan.json {
        let mut text = serde_json::to_string_pretty(&rows).expect("rows serialize");
        text.push('\n');
        text
    } else {
        table(&rows)
    };
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(stdout_error)?;
    Ok(Outcome::Success)
}

fn row(p: PipeEntry, users: &Users) -> Row {
    Row {
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

fn table(rows: &[Row]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let header = [
        "NAME",
        "TYPE",
        "ACCESS",
        "INSTANCES",
        "LISTENING",
        "OWNER",
        "PIDS",
    ];
    let mut lines: Vec<[String; 7]> = vec![header.map(String::from)];
    for r in rows {
        let max = if r.max_instances == PIPE_UNLIMITED_INSTANCES {
            "unlimited".to_string()
        } else {
            r.max_instances.to_string()
        };
        let pids: Vec<String> = r.server_pids.iter().map(u32::to_string).collect();
        lines.push([
            r.name.clone(),
            r.pipe_type.into(),
            r.access.into(),
            format!("{}/{max}", r.current_instances),
            r.listening_instances.to_string(),
            r.owner.clone().unwrap_or_else(|| r.owner_uid.to_string()),
            pids.join(","),
        ]);
    }
    let mut widths = [0usize; 7];
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in &lines {
        let mut text = String::new();
        for (i, (cell, w)) in line.iter().zip(widths).enumerate() {
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

    #[test]
    fn table_aligns_columns_and_spells_out_unlimited() {
        let rows = vec![
            Row {
                name: r"\\.\pipe\a".into(),
                pipe_type: "byte",
                access: "duplex",
                current_instances: 1,
                listening_instances: 1,
                max_instances: 255,
                owner_uid: 1000,
                owner: None,
                server_pids: vec![42],
            },
            Row {
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
        ];
        let text = table(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("NAME             TYPE"), "{text}");
        assert!(lines[1].contains("1/unlimited"), "{text}");
        assert!(lines[1].contains("1000"), "{text}");
        assert!(
            lines[2].contains("2/4") && lines[2].ends_with("root   7,8"),
            "{text}"
        );
        assert_eq!(table(&[]), "");
    }
}
