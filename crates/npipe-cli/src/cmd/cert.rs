//! `npipe cert`: a test CA, a server and a client certificate for npiped
//! (`npiped::generate_test_certificates`), and what to do with them.

use std::io::Write;
use std::path::Path;

use crate::cmd::Outcome;
use crate::failure::{stdout_error, Failure};
use crate::flags::high::CertPlan;

pub fn run(plan: CertPlan) -> Result<Outcome, Failure> {
    let paths =
        npiped::generate_test_certificates(&plan.out, &plan.hosts, &plan.client).map_err(|e| {
            match e {
                npiped::CertError::BadName { .. } => Failure::with_hint(
                    e.to_string(),
                    "--host takes a DNS name or an IP address (the HOST of \\\\HOST\\pipe\\NAME), \
                 --client a name such as `alice`.",
                ),
                other => Failure::with_hint(
                    other.to_string(),
                    "--out must be a directory npipe can create and write.",
                ),
            }
        })?;
    let text = report(&plan, &paths);
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(stdout_error)?;
    Ok(Outcome::Success)
}

/// What was written and the next steps, with the paths filled in.
fn report(plan: &CertPlan, p: &npiped::CertPaths) -> String {
    let q = |path: &Path| shell_quote(&path.display().to_string());
    let host = &plan.hosts[0];
    let hosts = plan.hosts.join(", ");
    let client = &plan.client;
    format!(
        "\
Wrote test certificates (for tests and first setups, not a deployment):
  CA:     {ca}
  CA key: {ca_key}   (keep it off both machines)
  server: {server} {server_key}   (for {hosts})
  client: {cert} {key}   (principal {client:?})

On the server ({host}), start npiped with them (it listens on port 4445; --listen ADDR:PORT \
to change it):
  npiped --cert {server} --key {server_key} --client-ca {ca}
and serve a pipe in npiped's namespace (its --root, else NPIPE_ROOT), open to remote clients:
  npipe serve jobs --accept-remote --allow-remote-principal {client} --echo

On the client, with ca.pem, client.pem and client.key copied over:
  export NPIPE_REMOTE_CA={ca}
  export NPIPE_REMOTE_CERT={cert} NPIPE_REMOTE_KEY={key}
  export NPIPE_REMOTE_PORT=4445   # only if npiped listens on another port: that one
  echo hi | npipe connect '\\\\{host}\\pipe\\jobs'
",
        ca = q(&p.ca_cert),
        ca_key = q(&p.ca_key),
        server = q(&p.server_cert),
        server_key = q(&p.server_key),
        cert = q(&p.client_cert),
        key = q(&p.client_key),
    )
}

/// `s` as one shell word: as it is when that is safe, else single-quoted.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%,=".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(shell_quote("/etc/npiped/ca.pem"), "/etc/npiped/ca.pem");
        assert_eq!(shell_quote("/my certs/ca.pem"), "'/my certs/ca.pem'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
