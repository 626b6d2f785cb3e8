//! `npiped`: the npipe network server service.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use npiped::{Config, Overrides, Server};

/// The npipe network server service: makes local named pipes reachable
/// from other machines as \\host\pipe\NAME, over TLS 1.3.
#[derive(Debug, Parser)]
#[command(name = "npiped", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The configuration file (TOML); see docs/REMOTE.md.
    #[arg(long, short, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// Address and port to listen on [default: 0.0.0.0:4445].
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<String>,
    /// The pipe namespace root [default: NPIPE_ROOT or /tmp/.npipe].
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// The server's certificate chain (PEM), `tls.cert`.
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// The server's private key (PEM), `tls.key`.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Accept client certificates signed by this CA (PEM), `auth.client_ca`.
    #[arg(long, value_name = "FILE")]
    client_ca: Option<PathBuf>,
    /// Accept this shared token (a file holding it), as the principal
    /// --token-name gives.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// The principal servers see for the --token-file token, the name their
    /// allow_remote_principal lists [default: token].
    #[arg(long, value_name = "NAME")]
    token_name: Option<String>,
    /// Connections served at once [default: 1024].
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Close connections silent for this long [default: 60].
    #[arg(long, value_name = "SECONDS")]
    idle_timeout: Option<f64>,
    /// After SIGTERM, let open connections go on this long [default: 10].
    #[arg(long, value_name = "SECONDS")]
    shutdown_grace: Option<f64>,
    /// error, warn, info, debug or trace [default: info].
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve (the default).
    Serve,
    /// Make a test CA, a server certificate and a client certificate.
    ///
    /// Example: npiped certs --out /etc/npiped/certs --host build01 --client alice
    Certs {
        /// Directory to write ca.pem, ca.key, server.pem, server.key,
        /// client.pem and client.key into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// A name (or IP address) clients use for the server; repeatable.
        #[arg(long = "host", value_name = "NAME", required = true)]
        hosts: Vec<String>,
        /// The client certificate's name: the principal servers see.
        #[arg(long, value_name = "NAME")]
        client: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Certs { out, hosts, client }) => {
            match npiped::generate_test_certificates(&out, &hosts, &client) {
                Ok(paths) => {
                    println!("CA:     {}", paths.ca_cert.display());
                    println!(
                        "server: {} {}",
                        paths.server_cert.display(),
                        paths.server_key.display()
                    );
                    println!(
                        "client: {} {}",
                        paths.client_cert.display(),
                        paths.client_key.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e.to_string()),
            }
        }
        None | Some(Command::Serve) => serve(cli),
    }
}

fn serve(cli: Cli) -> ExitCode {
    let overrides = Overrides {
        listen: cli.listen,
        root: cli.root,
        cert: cli.cert,
        key: cli.key,
        client_ca: cli.client_ca,
        token_file: cli.token_file,
        token_name: cli.token_name,
        max_connections: cli.max_connections,
        idle_timeout_secs: cli.idle_timeout,
        shutdown_grace_secs: cli.shutdown_grace,
        log_level: cli.log_level,
    };
    let config = match Config::load(cli.config.as_deref(), &overrides) {
        Ok(config) => config,
        Err(e) => return fail(&e.to_string()),
    };
    let level: tracing::Level = config.log_level.parse().unwrap_or(tracing::Level::INFO);
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        // Colours only for a person at a terminal, not in journald or a file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    runtime.block_on(async {
        let server = match Server::bind(config).await {
            Ok(server) => server,
            Err(e) => return fail(&e.to_string()),
        };
        server.run(shutdown_signal()).await;
        ExitCode::SUCCESS
    })
}

/// SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("npiped: {message}");
    ExitCode::from(2)
}
